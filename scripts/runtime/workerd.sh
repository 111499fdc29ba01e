#!/bin/sh
# workerd that never outlives its parent: Miniflare runs this instead of workerd when
# MINIFLARE_WORKERD_PATH points here; HEADSCOPE_WORKERD holds the real binary (see no-orphans.sh).
#
# With HEADSCOPE_WORKERD_V8_FLAGS (guard.mjs sets "--single-threaded-gc"), the config Miniflare
# writes to stdin gets those V8 flags first (workerd-v8-flags.mjs, run by HEADSCOPE_NODE): read
# from a file that is unlinked at once and handed over as /dev/fd/9, so workerd keeps this pid.
dir=$(dirname "$0")
if [ -n "$HEADSCOPE_WORKERD_V8_FLAGS" ] && [ -n "$HEADSCOPE_NODE" ]; then
  tmp=$(mktemp "${TMPDIR:-/tmp}/headscope-workerd-config.XXXXXX") || exit 1
  # shellcheck disable=SC2086 # the flags are words
  if ! "$HEADSCOPE_NODE" "$dir/workerd-v8-flags.mjs" $HEADSCOPE_WORKERD_V8_FLAGS > "$tmp"; then
    rm -f "$tmp"
    exit 1
  fi
  exec 9< "$tmp"
  rm -f "$tmp"
  # the config argument "-" (stdin) becomes the patched copy
  for a; do
    shift
    if [ "$a" = "-" ]; then set -- "$@" /dev/fd/9; else set -- "$@" "$a"; fi
  done
fi
exec "$dir/no-orphans.sh" "${HEADSCOPE_WORKERD:?HEADSCOPE_WORKERD must name the workerd binary}" "$@"
