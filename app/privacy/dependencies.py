from typing import Annotated

from fastapi import Depends

from app.container import Container
from app.core.database import UnitOfWork
from app.dependencies import ContainerDep, UnitOfWorkDep
from app.privacy.service import OwnDataService


def own_data_service(container: Container, work: UnitOfWork) -> OwnDataService:
    """For a route, and for the admin site's erase action (in a unit of work of its own)."""
    return OwnDataService(
        work, container.surroundings, container.password_hasher, container.erased_users
    )


async def get_own_data_service(container: ContainerDep, work: UnitOfWorkDep) -> OwnDataService:
    return own_data_service(container, work)


OwnDataServiceDep = Annotated[OwnDataService, Depends(get_own_data_service)]
