from fastapi import APIRouter, status

from app.auth.dependencies import (
    AUTHENTICATION_ERRORS,
    AuthServiceDep,
    CurrentUser,
    LoginRateLimit,
    PasswordForm,
    RefreshRateLimit,
    RegisterRateLimit,
)
from app.auth.errors import (
    InvalidCredentialsError,
    InvalidRefreshTokenError,
    RefreshTokenReusedError,
    UsernameTakenError,
)
from app.auth.schemas import (
    LoginRequest,
    MessageResponse,
    RefreshRequest,
    RegisterRequest,
    RegisterResponse,
    TokenPair,
    UserRead,
)
from app.core.errors import RateLimitedError, RequestInvalidError, problem_responses

router = APIRouter(prefix="/api/auth", tags=["auth"])

LOGIN_ERRORS = problem_responses(InvalidCredentialsError, RequestInvalidError, RateLimitedError)
REFRESH_ERRORS = (InvalidRefreshTokenError, RefreshTokenReusedError)


@router.post(
    "/register",
    operation_id="auth_register",
    summary="Create an account and log in",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(UsernameTakenError, RequestInvalidError, RateLimitedError),
)
async def register(
    data: RegisterRequest, service: AuthServiceDep, rate_limit: RegisterRateLimit
) -> RegisterResponse:
    await rate_limit(data.username)
    user, tokens = await service.register(data)
    return RegisterResponse(user=UserRead.model_validate(user), **tokens.model_dump())


@router.post(
    "/login",
    operation_id="auth_login",
    summary="Log in with a username and password",
    responses=LOGIN_ERRORS,
)
async def login(
    data: LoginRequest, service: AuthServiceDep, rate_limit: LoginRateLimit
) -> TokenPair:
    await rate_limit(data.username)
    return await service.login(data.username, data.password)


@router.post(
    "/token",
    operation_id="auth_token",
    summary="Log in with the OAuth2 password form",
    responses=LOGIN_ERRORS,
)
async def token(
    form: PasswordForm,
    service: AuthServiceDep,
    rate_limit: LoginRateLimit,
) -> TokenPair:
    """OAuth2 password flow, for Swagger UI's Authorize button and OAuth2 clients."""
    await rate_limit(form.username)
    return await service.login(form.username, form.password)


@router.post(
    "/token/refresh",
    operation_id="auth_refresh",
    summary="Exchange a refresh token for a new pair",
    responses=problem_responses(*REFRESH_ERRORS, RequestInvalidError, RateLimitedError),
)
async def refresh(
    data: RefreshRequest, service: AuthServiceDep, rate_limit: RefreshRateLimit
) -> TokenPair:
    await rate_limit()
    return await service.refresh(data.refresh_token)


@router.post(
    "/logout",
    operation_id="auth_logout",
    summary="Log out: revoke a refresh token",
    responses=problem_responses(*AUTHENTICATION_ERRORS, *REFRESH_ERRORS, RequestInvalidError),
)
async def logout(
    data: RefreshRequest, user: CurrentUser, service: AuthServiceDep
) -> MessageResponse:
    await service.logout(user, data.refresh_token)
    return MessageResponse(message="Successfully logged out")


@router.get(
    "/me",
    operation_id="auth_me",
    summary="The current user",
    responses=problem_responses(*AUTHENTICATION_ERRORS),
)
async def me(user: CurrentUser) -> UserRead:
    return UserRead.model_validate(user)
