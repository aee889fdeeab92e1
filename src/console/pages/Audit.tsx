/**
 * `GET /admin/audit`: every operator action, newest first, by operator and
 * action; `GET /admin/audit/export` is the same filter as JSON (the admin
 * API's AuditPage, `GET /admin/api/audit`), to download.
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { AuditPage, AuditQuery } from "../../http/contract/Audit.ts"
import { auditPage } from "../../http/routes/Audit.ts"
import { Time, href, Layout, Pager, Status, Table } from "../Components.tsx"
import { type ConsoleRoutes, consoleHeaders, page } from "../ConsoleRouter.tsx"
import { attempt } from "../../http/Handler.ts"
import { asHttp, loadSession } from "../Session.ts"
import { decodeAll } from "../../http/Validate.ts"
import * as Either from "effect/Either"

export const auditPages = (routes: ConsoleRoutes) => {
  page(routes, "/admin/audit", AuditQuery, ({ query, page: context }) =>
    Effect.gen(function* () {
      const found = yield* auditPage(query)
      const filters = { operator: query.operator, action: query.action }
      return (
        <Layout title="Audit" page={context}>
          <form method="get" action="/admin/audit" class="filters" role="search">
            <label>
              Operator
              <input name="operator" value={query.operator ?? ""} />
            </label>
            <label>
              Action
              <input name="action" value={query.action ?? ""} placeholder="retryJob" />
            </label>
            <button type="submit">Filter</button>
            <a href={href("/admin/audit/export", { ...filters, limit: 1000 })} download="switchboard-audit.json">
              Export as JSON
            </a>
          </form>
          <div id="audit-list" data-live>
            <Table caption="Operator actions, newest first" headers={["at", "operator", "via", "action", "target", "outcome", "from", "details"]} empty={found.items.length === 0} id="audit">
              {found.items.map((entry) => (
                <tr>
                  <td>
                    <Time at={entry.at} />
                  </td>
                  <td>{entry.role === undefined ? entry.operator : `${entry.operator} (${entry.role})`}</td>
                  <td>{entry.via}</td>
                  <td>{entry.action}</td>
                  <td>{entry.target ?? ""}</td>
                  <td>
                    <Status value={entry.outcome} />
                  </td>
                  <td>{entry.ip ?? ""}</td>
                  <td>{Object.keys(entry.detail).length === 0 ? "" : <code>{JSON.stringify(entry.detail)}</code>}</td>
                </tr>
              ))}
            </Table>
            <Pager path="/admin/audit" query={filters} cursor={found.nextCursor} />
          </div>
        </Layout>
      )
    })
  )

  routes.router.get("/admin/audit/export", loadSession(routes.settings), async (c) => {
    if (c.get("session") === undefined) return c.redirect(`/admin/sign-in?next=${encodeURIComponent("/admin/audit")}`, 303)
    const decoded = decodeAll(AuditQuery, c.req.query(), "query")
    if (Either.isLeft(decoded)) return c.json({ errors: decoded.left }, 400)
    const out = await attempt(asHttp(c), Effect.flatMap(auditPage(decoded.right), Schema.encode(AuditPage)))
    if ("response" in out) return out.response
    return c.json(out.value, 200, { ...consoleHeaders, "Content-Disposition": 'attachment; filename="switchboard-audit.json"' })
  })
}
