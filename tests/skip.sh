#!/bin/sh
# skip.sh REASON... - stands in for a test whose tool is missing at configure
# time: prints the reason and exits 77, which the test's SKIP_RETURN_CODE
# turns into "Skipped" in ctest's summary (so the test is never silently
# left out).
echo "SKIP: $*"
exit 77
