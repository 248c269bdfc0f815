#!/bin/sh
# No arguments or `serve [gunicorn options]`: the HTTP API under gunicorn. Anything else: the classify CLI
# (`classify` itself may be given first). Each branch execs, so signals reach the real process.
set -eu
cd /app

if [ "$#" -eq 0 ] || [ "$1" = "serve" ]; then
    [ "$#" -gt 0 ] && shift
    exec gunicorn --config gunicorn.conf.py "$@"
fi

[ "$1" = "classify" ] && shift

# `docker run -it ... 2>/dev/null`: with -t Docker merges the container's stderr into the terminal stream, so the
# host's 2>/dev/null cannot remove logs. On a terminal the CLI is therefore quiet unless CLASSIFY_QUIET_ON_TTY=0.
if [ -t 1 ] && [ "${CLASSIFY_QUIET_ON_TTY:-1}" != "0" ]; then
    exec python -m service.cli --quiet "$@"
fi
exec python -m service.cli "$@"
