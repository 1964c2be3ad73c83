#!/usr/bin/env bash
# Compares `failwatch render --to google-chat` over a stream of message bodies with the seed's Python
# doing the same work per message (parse, decide, format, serialise), as BENCHMARKS.md reports.
#
#   crates/failwatch-core/benches/seed_python/compare.sh [N] [RUST_COMMAND]
#
# N defaults to 200000 lines. RUST_COMMAND defaults to `target/release/failwatch render --to
# google-chat`; pass e.g. "target/release/examples/render_stream google-chat" to measure the core
# library's stream loop alone. Uses hyperfine when installed (apt-get install hyperfine), otherwise the
# best wall-clock time of three runs, measured by Python.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../../.." && pwd)"
n="${1:-200000}"
rust_cmd="${2:-$root/target/release/failwatch render --to google-chat}"
python="${PYTHON:-python3}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
stream="$work/stream.ndjson"
"$python" "$here/make_stream.py" "$root/tests/fixtures/events/ecs_task-exit137-killed.json" "$n" > "$stream"
echo "stream: $n lines, $(wc -c < "$stream") bytes, $("$python" -V 2>&1)"

# Both sides must alert on every line, or the comparison is not of the same work.
py_lines="$("$python" "$here/seed_lambda.py" < "$stream" | wc -l)"
rs_lines="$($rust_cmd < "$stream" 2>/dev/null | wc -l)"
echo "payload lines: python $py_lines, rust $rs_lines"
if [[ "$py_lines" != "$n" || "$rs_lines" != "$n" ]]; then
    echo "compare.sh: expected $n payloads from each side" >&2
    exit 1
fi

py="$python $here/seed_lambda.py < $stream > /dev/null"
rs="$rust_cmd < $stream > /dev/null 2>&1"
if command -v hyperfine > /dev/null; then
    hyperfine --warmup 1 --runs 3 --export-markdown "$work/result.md" -n python-seed "$py" -n failwatch "$rs"
    cat "$work/result.md"
else
    # Without hyperfine: the best wall-clock time of three runs of each, measured by Python (already
    # required above), so nothing else needs installing.
    "$python" - "$py" "$rs" <<'PY'
import subprocess, sys, time

def best(cmd):
    times = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run(["bash", "-c", cmd], check=True)
        times.append(time.perf_counter() - start)
    return min(times)

py, rs = best(sys.argv[1]), best(sys.argv[2])
print(f"python-seed: {py:.3f} s (best of 3)")
print(f"failwatch:   {rs:.3f} s (best of 3)")
print(f"speed-up:    {py / rs:.2f}x")
PY
fi
