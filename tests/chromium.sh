# chromium.sh — sourced by the report checks: headless Chromium as they all
# run it (one set of flags), the pattern of a console error in its log, and
# the check of a confirmed comparison in the rendered DOM.
#   chromium_dom URL DOM_OUT LOG_OUT PROFILE_DIR
#   confirmed_rows DOM RANKS     (calls fail MESSAGE, the caller's)
# --disable-dev-shm-usage: containers often give /dev/shm 64 MB, too little
# for Chromium's renderer.
chromium=${PT_CHROMIUM:-/usr/bin/chromium}
# Chromium logs the page's console as "INFO:CONSOLE:<line>]" (older builds
# "CONSOLE(<line>)"), script errors as "Uncaught ...".
console_re='CONSOLE[:(]|Uncaught|net::ERR_'
chromium_flags() {
  printf '%s\n' --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --disable-dev-shm-usage --user-data-dir="$1" --enable-logging=stderr --v=0
}
chromium_dom() {
  local flags
  mapfile -t flags < <(chromium_flags "$4")
  timeout 120 "$chromium" "${flags[@]}" --dump-dom "$1" >"$2" 2>"$3"
}

# Rows of table $2 in DOM $1 that contain $3.
table_rows() {
  sed -n "/<table id=\"$2\">/,/<\/table>/p" "$1" | grep -o '<tr>.*</tr>' | grep -c -- "$3" || true
}

# A confirmed comparison of RANKS strategies: the baseline row, then
# regularization only / pruning only / hybrid per rank, the paired tests per
# rank, and the verdict.
confirmed_rows() {
  local dom=$1 ranks=$2 v n want cmp
  for v in 'baseline' 'regularization only' 'pruning only' 'hybrid'; do
    n=$(table_rows "$dom" compare ">$v</td>")
    want=$ranks; [ "$v" = baseline ] && want=1
    [ "$n" = "$want" ] || fail "confirmed table: $n rows '$v', expected $want"
  done
  for cmp in 'hybrid vs pruning only' 'hybrid vs regularization only' 'hybrid vs baseline'; do
    n=$(table_rows "$dom" confirm-tests "$cmp")
    [ "$n" = "$ranks" ] || fail "paired-test table: $n rows '$cmp', expected $ranks (one per rank)"
  done
  grep -q '<p id="verdict"><b>Verdict:</b> ' "$dom" || fail "rendered DOM has no verdict"
}
