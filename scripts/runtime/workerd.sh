#!/bin/sh
# workerd that never outlives its parent: Miniflare runs this instead of workerd when
# MINIFLARE_WORKERD_PATH points here; HEADSCOPE_WORKERD holds the real binary (see no-orphans.sh).
exec "$(dirname "$0")/no-orphans.sh" "${HEADSCOPE_WORKERD:?HEADSCOPE_WORKERD must name the workerd binary}" "$@"
