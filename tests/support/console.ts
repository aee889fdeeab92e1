/**
 * A browser's part in the console, over real HTTP without a browser: a cookie
 * jar of one, the Origin a same-origin page sends, and the CSRF token read off
 * the last page, so tests can sign in and post forms as a person would (and
 * as an attacker would, by leaving things out).
 */
export interface ConsoleClient {
  /** The session cookie as the jar holds it (`name=value`), if any. */
  readonly cookie: () => string | undefined
  readonly get: (path: string) => Promise<Response>
  /** POSTs a form; `origin` defaults to the console's own, `csrf` to the token of the last page read. */
  readonly post: (path: string, fields?: Record<string, string>, options?: { origin?: string | null; csrf?: string | null; headers?: Record<string, string> }) => Promise<Response>
  /** Signs in (an empty name: the admin token); the response of the sign-in POST. */
  readonly signIn: (name: string, password: string, headers?: Record<string, string>) => Promise<Response>
  /** The CSRF token of a page's forms. */
  readonly csrfOf: (html: string) => string | undefined
}

export const consoleClient = (baseUrl: string, defaults: Record<string, string> = {}): ConsoleClient => {
  let jar: string | undefined
  let lastCsrf: string | undefined
  const keep = (response: Response) => {
    for (const line of response.headers.getSetCookie()) {
      const [pair = ""] = line.split(";")
      const [name = ""] = pair.split("=")
      if (!name.endsWith("switchboard_session")) continue
      jar = /max-age=0/i.test(line) || pair.endsWith("=") ? undefined : pair
    }
  }
  const csrfOf = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)?.[1]
  const get = async (path: string) => {
    const response = await fetch(baseUrl + path, { redirect: "manual", headers: { ...defaults, ...(jar === undefined ? {} : { cookie: jar }) } })
    keep(response)
    if ((response.headers.get("content-type") ?? "").startsWith("text/html")) {
      const text = await response.clone().text()
      lastCsrf = csrfOf(text) ?? lastCsrf
    }
    return response
  }
  const post: ConsoleClient["post"] = async (path, fields = {}, options = {}) => {
    const origin = options.origin === undefined ? baseUrl : options.origin
    const csrf = options.csrf === undefined ? lastCsrf : options.csrf
    const body = new URLSearchParams({ ...(csrf === null || csrf === undefined ? {} : { _csrf: csrf }), ...fields })
    const response = await fetch(baseUrl + path, {
      method: "POST",
      redirect: "manual",
      headers: {
        ...defaults,
        "content-type": "application/x-www-form-urlencoded",
        ...(origin === null ? {} : { origin }),
        ...(jar === undefined ? {} : { cookie: jar }),
        ...options.headers
      },
      body
    })
    keep(response)
    return response
  }
  const signIn = (name: string, password: string, headers: Record<string, string> = {}) => post("/admin/sign-in", { name, password, next: "/admin" }, { csrf: null, headers })
  return { cookie: () => jar, get, post, signIn, csrfOf }
}
