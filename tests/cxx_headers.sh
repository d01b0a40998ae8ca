#!/bin/sh
# Every public header compiles on its own as C++17 without a warning (-Wall -Wextra -pedantic
# -Werror), and twice in a row (include guards). The headers are listed when the test runs, so a
# new header is covered without reconfiguring.
#   cxx_headers.sh <c++ compiler> <include-dir> [MPI include dirs, ;-separated]
# dist.h (the MPI component) needs mpi.h: it is checked with the MPI include dirs when given and
# skipped otherwise.
set -eu
cxx="$1"
include="$2"
mpi_flags=""
if [ $# -ge 3 ] && [ -n "$3" ]; then
    for dir in $(echo "$3" | tr ';' ' '); do mpi_flags="$mpi_flags -isystem $dir"; done
fi
status=0
count=0
for header in "$include"/minitorch/*.h; do
    name="minitorch/$(basename "$header")"
    extra=""
    if [ "$(basename "$header")" = dist.h ]; then
        [ -n "$mpi_flags" ] || continue
        extra="$mpi_flags"
    fi
    # shellcheck disable=SC2086
    if printf '#include <%s>\n#include <%s>\n' "$name" "$name" |
        "$cxx" -std=c++17 -Wall -Wextra -pedantic -Werror -fsyntax-only -x c++ -I "$include" $extra -; then
        count=$((count + 1))
    else
        echo "FAIL: $name does not compile cleanly as C++17"
        status=1
    fi
done
[ $status -eq 0 ] && echo "cxx_headers: $count headers compile as C++17 without warnings"
exit $status
