#!/bin/sh
# no-orphans.sh COMMAND [ARG…]: runs COMMAND (exec, same pid) so that it never outlives the process
# that started this script, even when that process is killed with SIGKILL or crashes.
# Linux: the kernel's parent-death signal (prctl PR_SET_PDEATHSIG through util-linux setpriv): the
# command gets SIGKILL the moment its parent dies. Elsewhere: a watcher polls the parent every
# second and kills the command once the parent is gone (or stops when the command has ended).
# Used for workerd (the CLI's embedded worker, wrangler dev) and for wrangler under npm start and
# the test helpers.
parent=$PPID
if command -v setpriv >/dev/null 2>&1 && setpriv --pdeathsig KILL true >/dev/null 2>&1; then
  # the parent may have died between its spawn and here: then there is nobody to wait for
  [ "$(cut -d" " -f4 /proc/$$/stat 2>/dev/null || echo "$parent")" = "$parent" ] || exit 137
  exec setpriv --pdeathsig KILL -- "$@"
fi
# fds 0-3 closed in the watcher: workerd's control pipe (fd 3) must reach EOF when workerd ends
( while kill -0 "$parent" 2>/dev/null && kill -0 $$ 2>/dev/null; do sleep 1; done
  kill -9 $$ 2>/dev/null ) </dev/null >/dev/null 2>&1 3>&- &
exec "$@"
