# chromium.sh — sourced by the report checks: headless Chromium as they all
# run it (one set of flags), and the pattern of a console error in its log.
#   chromium_dom URL DOM_OUT LOG_OUT PROFILE_DIR
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
