#!/usr/bin/env bash
# Compares `failwatch render --to google-chat` over a stream of message bodies with the seed's Python
# doing the same work per message (parse, decide, format, serialise), as BENCHMARKS.md reports.
#
#   crates/failwatch-core/benches/seed_python/compare.sh [N] [RUST_COMMAND]
#
# N defaults to 200000 lines. RUST_COMMAND defaults to `target/release/failwatch render --to
# google-chat`; pass e.g. "target/release/examples/render_stream google-chat" to measure the core
# library's stream loop alone. Uses hyperfine when installed (apt-get install hyperfine), otherwise the
# best of three runs of bash's `time`.
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
    best() {
        local best_s=
        for _ in 1 2 3; do
            local start end s
            start="$(date +%s.%N)"
            bash -c "$1"
            end="$(date +%s.%N)"
            s="$(echo "$end - $start" | bc)"
            if [[ -z "$best_s" ]] || (( $(echo "$s < $best_s" | bc) )); then best_s="$s"; fi
        done
        echo "$best_s"
    }
    py_s="$(best "$py")"
    rs_s="$(best "$rs")"
    echo "python-seed: ${py_s}s (best of 3)"
    echo "failwatch:   ${rs_s}s (best of 3)"
    echo "speed-up:    $(echo "scale=1; $py_s / $rs_s" | bc)x"
fi
