#!/usr/bin/env bash
# The side-by-side load run of BENCHMARKS.md: builds comanda, the load tool
# and the peers, then runs the same scenario (benches/CARGA.md) against each
# server in turn — comanda (Postgres store, a fresh database), the tokio
# broadcaster, the `ws` 8 peer and Socket.IO 4.8 — and prints one table.
# About 10 minutes on 2 cores.
#
#   benches/comparar.sh                      # 10,000 sockets, 200 events at 50/s
#   SESIONES=2000 EVENTOS=100 benches/comparar.sh
#   OBJETIVOS="comanda tokio" benches/comparar.sh
#
# The JSON report of every run is kept in target/comparacion/.
set -euo pipefail
cd "$(dirname "$0")/.."

SESIONES=${SESIONES:-10000}
EVENTOS=${EVENTOS:-200}
RITMO=${RITMO:-50}
OBJETIVOS=${OBJETIVOS:-"comanda tokio ws socketio"}
ADMIN_URL=${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
PUERTO=9180
SALIDA=target/comparacion
mkdir -p "$SALIDA"

log() { printf '\n== %s\n' "$*" >&2; }

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" -lt $((SESIONES + 100)) ]; then
  echo "ulimit -n es $(ulimit -n): hace falta más que $SESIONES sockets en el servidor" >&2
  exit 1
fi

log "compilando (release)"
cargo build --release --quiet
ejecutable() { # the binary of a bench target, to run (and kill) it directly
  cargo bench --bench "$1" --no-run --message-format=json 2>/dev/null |
    python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == sys.argv[1]:
        print(m["executable"])' "$1"
}
CARGA=$(ejecutable carga)
DIFUSOR=$(ejecutable difusor)
for peer in ws socketio; do
  (cd "benches/peers/$peer" && npm ci --silent --no-audit --no-fund)
done

SERVIDOR=""
parar() {
  if [ -n "$SERVIDOR" ]; then
    kill "$SERVIDOR" 2>/dev/null || true
    wait "$SERVIDOR" 2>/dev/null || true
    SERVIDOR=""
  fi
}
BASE=""
borrar_base() {
  if [ -n "$BASE" ]; then
    psql "$ADMIN_URL" -qc "DROP DATABASE IF EXISTS \"$BASE\" WITH (FORCE)" >/dev/null 2>&1 || true
    BASE=""
  fi
}
trap 'parar; borrar_base' EXIT

# Starts a server in the background and waits for its port to answer.
arrancar() { # objetivo
  local registro="$SALIDA/$1.log"
  case "$1" in
    comanda)
      BASE="comanda_comparar_$$"
      psql "$ADMIN_URL" -qc "CREATE DATABASE \"$BASE\"" >/dev/null
      # One demo account per role holds every socket of the run. The
      # allocator returns freed memory at once: the logins' argon2 hashes
      # (19 MiB each) would otherwise stay resident, be reused by the
      # sockets, and hide what a socket costs.
      MIMALLOC_PURGE_DELAY=0 COMANDA_WS_SESIONES_POR_USUARIO=1000000 \
      RUST_LOG=warn,comanda=info ./target/release/comanda --demo \
        --database-url "${ADMIN_URL%/*}/$BASE" --bind "127.0.0.1:$PUERTO" \
        --log-format json >"$registro" 2>&1 &
      ;;
    tokio) PORT=$PUERTO "$DIFUSOR" >"$registro" 2>&1 & ;;
    ws | socketio) PORT=$PUERTO node "benches/peers/$1/server.js" >"$registro" 2>&1 & ;;
  esac
  SERVIDOR=$!
  for _ in $(seq 1 300); do
    if curl -s -o /dev/null "http://127.0.0.1:$PUERTO/"; then return 0; fi
    kill -0 "$SERVIDOR" 2>/dev/null || { cat "$registro" >&2; return 1; }
    sleep 0.1
  done
  echo "$1 no respondió en 30 s" >&2
  return 1
}

for objetivo in $OBJETIVOS; do
  log "$objetivo: $SESIONES sockets, $EVENTOS eventos a $RITMO/s"
  arrancar "$objetivo"
  "$CARGA" --objetivo "$objetivo" --url "http://127.0.0.1:$PUERTO" --pid "$SERVIDOR" \
    --sesiones "$SESIONES" --eventos "$EVENTOS" --ritmo "$RITMO" --json \
    >"$SALIDA/$objetivo.txt" || echo "(la carga de $objetivo terminó con error: ver $SALIDA/$objetivo.txt)" >&2
  tail -n 1 "$SALIDA/$objetivo.txt" >"$SALIDA/$objetivo.json"
  parar
  borrar_base
  sleep 2 # let the closed sockets leave TIME_WAIT's way
done

log "resultado ($(date -u +%F), $(nproc) núcleos, servidor y carga en la misma máquina)"
python3 - "$SALIDA" $OBJETIVOS <<'PY'
import json, sys
carpeta, objetivos = sys.argv[1], sys.argv[2:]
def cifra(v, fmt="{:,.0f}"):
    return "—" if v is None else fmt.format(v)
print("| servidor | sesiones | entregas esperadas / recibidas / perdidas / duplicadas | entregas/s | latencia p50 / p99 / max (ms) | CPU µs por entrega | RSS por sesión inactiva (KiB) | publicaciones fallidas |")
print("|---|---|---|---|---|---|---|---|")
for o in objetivos:
    try:
        r = json.load(open(f"{carpeta}/{o}.json"))
    except Exception as e:
        print(f"| {o} | sin informe ({e}) |||||||")
        continue
    lat = r.get("latencia_ms") or {}
    print(f"| {o} | {r['sesiones']:,} | {r['entregas_esperadas']:,} / {r['recibidas']:,} / {r['perdidas']} / {r['duplicadas']} "
          f"| {cifra(r.get('entregas_por_segundo'))} "
          f"| {cifra(lat.get('p50'), '{:.1f}')} / {cifra(lat.get('p99'), '{:.1f}')} / {cifra(lat.get('max'), '{:.1f}')} "
          f"| {cifra(r.get('cpu_us_por_entrega'), '{:.2f}')} | {cifra(r.get('rss_por_sesion_kib'), '{:.1f}')} "
          f"| {r['publicaciones_fallidas']} |")
PY
