#!/bin/sh
# Every public header compiles on its own as C++17 without a warning (-Wall -Wextra -pedantic
# -Werror), and twice in a row (include guards). The headers are listed when the test runs, so a
# new header is covered without reconfiguring.
#   cxx_headers.sh <c++ compiler> <include-dir>
set -eu
cxx="$1"
include="$2"
status=0
count=0
for header in "$include"/minitorch/*.h; do
    name="minitorch/$(basename "$header")"
    if printf '#include <%s>\n#include <%s>\n' "$name" "$name" |
        "$cxx" -std=c++17 -Wall -Wextra -pedantic -Werror -fsyntax-only -x c++ -I "$include" -; then
        count=$((count + 1))
    else
        echo "FAIL: $name does not compile cleanly as C++17"
        status=1
    fi
done
[ $status -eq 0 ] && echo "cxx_headers: $count headers compile as C++17 without warnings"
exit $status
