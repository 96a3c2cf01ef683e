#!/usr/bin/env bash
# report_check.sh — looks at a prunetune report as a person would: renders it
# in headless Chromium and checks the rendered DOM for the comparison tables
# (confirmed over seeds, paired tests, verdict, the search's table) and the
# four plots, that the console stayed clean (no script errors, no
# blocked resource), and takes a screenshot.
#   tests/report_check.sh PRUNETUNE TEST_REPORT [OUTDIR]
# TEST_REPORT writes the fixture study (PT_REPORT_FIXTURE); OUTDIR keeps
# report.html and report.png (default: a temporary folder, removed).
# Without /usr/bin/chromium it prints one SKIP line and exits 0 (CI has it).
set -euo pipefail
bin=$1 test_report=$2
. "$(dirname "$0")/chromium.sh"
if [ ! -x "$chromium" ]; then
  echo "SKIP: report_check: $chromium is not installed (apt-get install chromium)"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
out=${3:-$work}
mkdir -p "$out"
fail() { echo "report_check: FAIL: $*" >&2; exit 1; }

PT_REPORT_FIXTURE="$work/study.db" "$test_report" --filter 'report/fixture_file' >"$work/fixture.log" 2>&1 ||
  { cat "$work/fixture.log" >&2; fail "could not write the fixture study"; }
"$bin" report "$work/study.db" -o "$out/report.html"

mapfile -t flags < <(chromium_flags "$work/profile")
url="file://$out/report.html"
chromium_dom "$url" "$work/dom.html" "$work/console.log" "$work/profile" ||
  { tail -20 "$work/console.log" >&2; fail "chromium --dump-dom failed"; }
timeout 120 "$chromium" "${flags[@]}" --window-size=1200,2600 --hide-scrollbars \
  --screenshot="$out/report.png" "$url" >/dev/null 2>>"$work/console.log" ||
  { tail -20 "$work/console.log" >&2; fail "chromium --screenshot failed"; }

# The console check must be able to fail: a probe page that logs an error
# has to show up in the log through the same pattern, or this Chromium logs
# differently and the check below would pass blindly.
echo '<!DOCTYPE html><script>console.error("report_check probe")</script>' >"$work/probe.html"
timeout 120 "$chromium" "${flags[@]}" --dump-dom "file://$work/probe.html" >/dev/null \
  2>"$work/probe.log" || true
grep -Eq "($console_re).*report_check probe" "$work/probe.log" ||
  fail "this Chromium does not log console messages the way the check expects"

dom="$work/dom.html"
need() { grep -q -- "$1" "$dom" || fail "rendered DOM has no $2"; }
need '<table id="summary">' "summary table"
need '<table id="compare">' "comparison table"
need '<table id="levels">' "sparsity-level table"
# The fixture has confirmation runs: the confirmed table (baseline, then
# regularization only / pruning only / hybrid for ranks 1 and 2), the paired
# tests, the verdict; below them the search's single-trial table.
need '<table id="confirm-tests">' "paired-test table"
need '<table id="compare-search">' "search comparison table"
confirmed_rows "$dom" 2
grep -q '<p id="verdict"><b>Verdict:</b> At &gt;= 90% sparsity the hybrid' "$dom" ||
  fail "rendered DOM has no verdict sentence"
for row in 'baseline (reference trial)' 'best regularization only' 'best pruning only' 'best hybrid'; do
  n=$(table_rows "$dom" compare-search "$row")
  [ "$n" = 1 ] || fail "search comparison table: no row '$row'"
done
for lvl in 50 80 90 95; do need "<td>$lvl%</td>" "row for sparsity $lvl%"; done
for id in plot-history plot-pareto plot-curves plot-importance; do need "<svg id=\"$id\"" "plot $id"; done
n_svg=$(grep -o '<svg ' "$dom" | wc -l)
[ "$n_svg" = 4 ] || fail "expected 4 plots, the DOM has $n_svg"
n_circles=$(grep -o '<circle ' "$dom" | wc -l)
[ "$n_circles" -ge 16 ] || fail "the scatter plots have $n_circles points, expected >= 16"
# Self-contained: nothing to fetch (a missing file is not logged at --v=0,
# so look for references instead).
if grep -Eo '(src|href)=[^ >]*' "$dom" >&2; then
  fail "the page refers to other files (above)"
fi
if grep -E "$console_re" "$work/console.log" >&2; then
  fail "the page logged console errors (above)"
fi
[ -s "$out/report.png" ] || fail "no screenshot"
png_size=$(stat -c %s "$out/report.png")
[ "$png_size" -gt 20000 ] || fail "screenshot is $png_size bytes: blank page?"
echo "report_check: ok ($n_svg plots, $n_circles points, screenshot $out/report.png, $png_size bytes)"
