// A small console: log in with the session cookie, then watch the live
// events this account may see, resuming from the last id after a drop.
const $ = (id) => document.getElementById(id);
let ultimoId = 0;
let intentos = 0;

async function api(path, opciones = {}) {
  const r = await fetch(path, { credentials: "same-origin", ...opciones });
  const cuerpo = r.status === 204 ? null : await r.json();
  if (!r.ok) throw new Error(cuerpo?.error?.mensaje ?? `HTTP ${r.status}`);
  return cuerpo;
}

function banner(texto, ok) {
  const b = $("conexion");
  b.textContent = texto;
  b.classList.toggle("ok", ok);
  b.classList.remove("oculto");
}

function conectar() {
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`);
  ws.onmessage = (m) => {
    const f = JSON.parse(m.data);
    if (f.type === "hola") {
      intentos = 0;
      banner("En línea", true);
      ws.send(JSON.stringify({ type: "reanudar", ultimo_id: ultimoId || f.ultimo_id }));
    } else if (f.type === "evento" && f.id > ultimoId) {
      ultimoId = f.id;
      const li = document.createElement("li");
      li.textContent = `#${f.id} ${f.tipo}${f.prioridad ? " (" + f.prioridad + ")" : ""} sucursal ${f.sucursal_id ?? "—"} ${JSON.stringify(f.payload)}`;
      $("eventos").prepend(li);
    } else if (f.type === "reinicio") {
      ultimoId = f.ultimo_id;
    }
  };
  ws.onclose = (c) => {
    if (c.code === 4001) return mostrarLogin();
    banner("Sin conexión — reintentando…", false);
    const espera = Math.min(30000, 500 * 2 ** intentos++) * (0.5 + Math.random());
    setTimeout(conectar, espera);
  };
}

function mostrarLogin() {
  $("login").classList.remove("oculto");
  $("consola").classList.add("oculto");
}

async function entrar(usuario) {
  $("quien").textContent = `${usuario.nombre} (${usuario.rol})`;
  $("login").classList.add("oculto");
  $("consola").classList.remove("oculto");
  conectar();
}

$("login").addEventListener("submit", async (e) => {
  e.preventDefault();
  const datos = Object.fromEntries(new FormData(e.target));
  try {
    const r = await api("/api/login", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(datos),
    });
    entrar(r.usuario);
  } catch (err) {
    $("login-error").textContent = err.message;
  }
});

$("salir").addEventListener("click", async () => {
  await api("/api/logout", { method: "POST" }).catch(() => {});
  location.reload();
});

api("/api/me").then(entrar).catch(mostrarLogin);
