import uuid
from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import AliasChoices, BaseModel, ConfigDict, EmailStr, Field, model_validator

Username = Annotated[
    str,
    Field(
        min_length=3,
        max_length=150,
        pattern=r"^[\w.@+-]+$",
        description="3–150 letters, digits and @.+-_",
        examples=["ivan.petrov"],
    ),
]
NewPassword = Annotated[
    str,
    Field(min_length=8, max_length=128, description="8–128 characters, not all digits"),
]
# Login accepts whatever was valid at registration time, bounded so nobody hashes a megabyte.
AnyUsername = Annotated[str, Field(min_length=1, max_length=150)]
AnyPassword = Annotated[str, Field(min_length=1, max_length=128)]
RefreshTokenField = Annotated[
    str,
    Field(
        min_length=1,
        max_length=4096,
        validation_alias=AliasChoices("refresh_token", "refresh"),
        description='The refresh token ("refresh" is accepted as a name too)',
    ),
]


class RegisterRequest(BaseModel):
    username: Username
    password: NewPassword
    email: EmailStr | None = None

    @model_validator(mode="after")
    def _password_rules(self) -> Self:
        if self.password.isdigit():
            raise ValueError("password must not be entirely numeric")
        if self.password.casefold() == self.username.casefold():
            raise ValueError("password must not be the same as the username")
        return self


class LoginRequest(BaseModel):
    username: AnyUsername
    password: AnyPassword


class RefreshRequest(BaseModel):
    refresh_token: RefreshTokenField


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    username: str
    email: str | None
    is_staff: bool
    is_door: bool = Field(description="May scan tickets at the door (`POST /api/checkin`)")
    created_at: datetime


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105
    expires_in: int = Field(description="seconds until the access token expires")


class RegisterResponse(TokenPair):
    message: str = "User created successfully"
    user: UserRead


class MessageResponse(BaseModel):
    message: str
