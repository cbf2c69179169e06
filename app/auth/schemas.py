import uuid
from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import AliasChoices, BaseModel, ConfigDict, EmailStr, Field, model_validator

from app.core.text import STORABLE_TEXT

Username = Annotated[
    str,
    Field(
        min_length=3,
        max_length=150,
        pattern=r"^[\w.@+-]+$",
        description="3–150 letters, digits and @.+-_",
        examples=["ivan.petrov"],
    ),
    STORABLE_TEXT,
]
NewPassword = Annotated[
    str,
    Field(min_length=8, max_length=128, description="8–128 characters, not all digits"),
    STORABLE_TEXT,
]
# Login accepts whatever was valid at registration time, bounded so nobody hashes a megabyte.
AnyUsername = Annotated[
    str,
    Field(min_length=1, max_length=150, description="The username of the account"),
    STORABLE_TEXT,
]
AnyPassword = Annotated[
    str, Field(min_length=1, max_length=128, description="Its password"), STORABLE_TEXT
]
RefreshTokenField = Annotated[
    str,
    Field(
        min_length=1,
        max_length=4096,
        validation_alias=AliasChoices("refresh_token", "refresh"),
        description='The refresh token ("refresh" is accepted as a name too)',
    ),
    STORABLE_TEXT,
]


class RegisterRequest(BaseModel):
    username: Username
    password: NewPassword
    email: EmailStr | None = Field(None, description="Optional; kept with the account")

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

    id: uuid.UUID = Field(description="The user's id")
    username: str = Field(description="The name they log in with")
    email: str | None = Field(description="Null when none was given")
    is_staff: bool = Field(description="May use the admin site and the sync operations")
    is_door: bool = Field(description="May scan tickets at the door (`POST /api/checkin`)")
    created_at: datetime = Field(description="When the account was made")


class TokenPair(BaseModel):
    access_token: str = Field(
        description="Send it as `Authorization: Bearer <token>`; it lives `expires_in` seconds"
    )
    refresh_token: str = Field(
        description="Exchange it once for a new pair at `POST /api/auth/token/refresh`"
    )
    token_type: Literal["bearer"] = Field("bearer", description="Always `bearer`")
    expires_in: int = Field(description="Seconds until the access token expires")


class RegisterResponse(TokenPair):
    message: str = Field("User created successfully", description="What happened")
    user: UserRead = Field(description="The account just made")


class MessageResponse(BaseModel):
    message: str = Field(description="What happened, in a sentence")
