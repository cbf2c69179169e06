"""The command line the fakes share:
`python -m fakes.<name> [--host H] [--port P] [--token T]`."""

import argparse

from starlette.types import ASGIApp


def argument_parser(description: str | None, default_port: int) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=default_port)
    parser.add_argument("--token", default="", help="Bearer token to require (none by default)")
    return parser


def serve(app: ASGIApp, args: argparse.Namespace) -> None:
    import uvicorn

    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
