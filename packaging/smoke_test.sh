#!/usr/bin/env bash
# Check a built bundle the way a user would meet it: versions, the GUI's --self-test (models,
# a sample photo, the window offscreen), the CLI on a local workspace, and the endpoint
# answering the CLI. Everything runs with HOME/XDG folders in a temp dir, so the user's
# settings, caches and logs are untouched and the dlib model is converted from scratch.
#
#   packaging/smoke_test.sh [BUNDLE_DIR]      (default: dist/rekurator)
set -euo pipefail
cd "$(dirname "$0")/.."
BUNDLE=$(cd "${1:-dist/rekurator}" && pwd)
GUI="$BUNDLE/rekurator-gui"
CLI="$BUNDLE/rekurator"
WANT=$(sed -n 's/^__version__ = "\(.*\)"/\1/p' app/__init__.py)

TMP=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT
export HOME="$TMP/home" XDG_CONFIG_HOME="$TMP/config" XDG_CACHE_HOME="$TMP/cache" \
       XDG_DATA_HOME="$TMP/data" XDG_STATE_HOME="$TMP/state" QT_QPA_PLATFORM=offscreen
unset REKURATOR_WORKSPACE REKURATOR_CACHE_DIR REKURATOR_LOG_DIR REKURATOR_MODEL_PACK
mkdir -p "$HOME"

fail() { echo "SMOKE TEST FAILED: $*" >&2; exit 1; }
step() { echo "== $*"; }

step "bundle contents"
for wanted in platforms/libqxcb.so platforms/libqoffscreen.so platforms/libqwayland.so \
              resources/models/face_detection_yunet_2023mar.onnx resources/report.schema.json \
              face_recognition_models/models/dlib_face_recognition_resnet_model_v1.dat \
              face_recognition_models/models/shape_predictor_5_face_landmarks.dat; do
  [ -n "$(find "$BUNDLE" -path "*/$wanted" -print -quit)" ] || fail "the bundle has no */$wanted"
done
echo "Qt platform plugins, models and resources present"

step "versions"
gui_version=$("$GUI" --version) || fail "rekurator-gui --version exited $?"
cli_version=$("$CLI" --version) || fail "rekurator --version exited $?"
echo "$gui_version | $cli_version"
[ "$gui_version" = "rekurator $WANT" ] || fail "rekurator-gui --version said '$gui_version', expected 'rekurator $WANT'"
case "$cli_version" in "rekurator $WANT "*) ;; *) fail "rekurator --version said '$cli_version'";; esac

step "rekurator-gui --self-test"
started=$SECONDS
if ! "$GUI" --self-test > "$TMP/self-test.json" 2> "$TMP/self-test.err"; then
  cat "$TMP/self-test.json" "$TMP/self-test.err" >&2
  fail "the self-test failed"
fi
cat "$TMP/self-test.json"
grep -q '"ok": true' "$TMP/self-test.json" || fail "the self-test summary is not ok"
grep -q '"frozen": true' "$TMP/self-test.json" || fail "the self-test did not run from the bundle"
echo "self-test took $((SECONDS - started)) s (a first run: it includes converting the dlib model)"

step "CLI on a local workspace"
SAMPLE="$BUNDLE/_internal/resources/samples/obama.jpg"
[ -f "$SAMPLE" ] || SAMPLE=$(find "$BUNDLE" -path '*resources/samples/obama.jpg' | head -n 1)
[ -f "$SAMPLE" ] || fail "the bundle has no resources/samples/obama.jpg"
"$CLI" --workspace "$TMP/ws" create-collection --collection-id smoke > /dev/null || fail "create-collection"
"$CLI" --workspace "$TMP/ws" index-faces --collection-id smoke --image-bytes "fileb://$SAMPLE" \
  --output text --query 'length(FaceRecords)' > "$TMP/indexed.txt" || fail "index-faces"
[ "$(cat "$TMP/indexed.txt")" -ge 1 ] || fail "index-faces found no face in $SAMPLE"
echo "indexed $(cat "$TMP/indexed.txt") face(s)"
[ -s "$XDG_STATE_HOME/rekurator/log/cli.log" ] || fail "the CLI wrote no log file"

step "endpoint: rekurator serve, answered through the CLI"
"$CLI" serve --port 0 --workspace "$TMP/ws" > "$TMP/serve.out" 2> "$TMP/serve.err" &
server_pid=$!
url=""
for _ in $(seq 1 300); do
  url=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$TMP/serve.out" | head -n 1)
  [ -n "$url" ] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$TMP/serve.err" >&2; fail "the server exited at start-up"; }
  sleep 0.1
done
[ -n "$url" ] || fail "the server did not announce its URL"
collections=$("$CLI" --endpoint-url "$url" --no-sign-request --region us-east-1 list-collections \
  --output text --query 'CollectionIds[0]') || fail "list-collections through $url"
[ "$collections" = "smoke" ] || fail "the endpoint listed '$collections', expected 'smoke'"
kill -TERM "$server_pid"
wait "$server_pid" || fail "the server did not stop cleanly (exit $?)"
server_pid=""
echo "served $url; listed '$collections'"

echo "SMOKE TEST PASSED: $BUNDLE ($(du -sh "$BUNDLE" | cut -f1))"
