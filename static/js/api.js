// Peticiones JSON a /api con la cookie de sesión.
//
// Los errores del servidor llegan como {"error":{"codigo","mensaje"}}: se
// lanzan como ErrorApi con ese mensaje (y el estado, el código y el cuerpo,
// p. ej. la línea y la columna de una regla que no compila). Un 401 significa
// que la sesión terminó: se vuelve al inicio de sesión.

export class ErrorApi extends Error {
  constructor(mensaje, { estado = 0, codigo = "", datos = null } = {}) {
    super(mensaje);
    this.name = "ErrorApi";
    this.estado = estado;
    this.codigo = codigo;
    this.datos = datos;
  }
}

/** Una clave para `Idempotency-Key`: un reintento se hace una sola vez. */
export function nuevaClave() {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

const esperar = (ms) => new Promise((listo) => setTimeout(listo, ms));

async function unaVez(ruta, metodo, cuerpo, clave) {
  const cabeceras = { accept: "application/json" };
  if (cuerpo !== undefined) cabeceras["content-type"] = "application/json";
  if (clave) cabeceras["idempotency-key"] = clave;
  const corte = new AbortController();
  const plazo = setTimeout(() => corte.abort(), 15000);
  try {
    return await fetch(ruta, {
      method: metodo,
      credentials: "same-origin",
      headers: cabeceras,
      body: cuerpo === undefined ? undefined : JSON.stringify(cuerpo),
      signal: corte.signal,
    });
  } finally {
    clearTimeout(plazo);
  }
}

/**
 * `api("/api/alertas", { metodo: "POST", cuerpo: {...}, idempotente: true })`.
 * - `idempotente`: manda una `Idempotency-Key` y reintenta con la misma clave
 *   si la red falla o el servidor responde 503 (una escritura se hace una vez).
 * - `redirigir` (por omisión sí): un 401 lleva a `/`.
 * Devuelve el JSON de la respuesta (o `null` si no tiene cuerpo).
 */
export async function api(ruta, { metodo = "GET", cuerpo, idempotente = false, redirigir = true } = {}) {
  const lectura = metodo === "GET";
  const clave = idempotente ? nuevaClave() : null;
  const intentos = lectura || idempotente ? 3 : 1;
  let respuesta;
  for (let i = 0; ; i++) {
    try {
      respuesta = await unaVez(ruta, metodo, cuerpo, clave);
      if (respuesta.status !== 503 || i + 1 >= intentos) break;
    } catch (e) {
      if (i + 1 >= intentos) {
        throw new ErrorApi("No hay conexión con el servidor. Revisa la red e inténtalo otra vez.", {
          codigo: "sin_conexion",
        });
      }
    }
    await esperar(400 * 3 ** i);
  }

  let datos = null;
  const texto = await respuesta.text();
  if (texto) {
    try {
      datos = JSON.parse(texto);
    } catch {
      datos = null;
    }
  }
  if (respuesta.status === 401 && redirigir) {
    location.assign("/");
    throw new ErrorApi("La sesión terminó: vuelve a entrar.", { estado: 401, codigo: "no_autenticado", datos });
  }
  if (!respuesta.ok) {
    const error = datos && datos.error ? datos.error : {};
    throw new ErrorApi(error.mensaje || `Error ${respuesta.status} del servidor`, {
      estado: respuesta.status,
      codigo: error.codigo || "",
      datos: error,
    });
  }
  return datos;
}
