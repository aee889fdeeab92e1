/**
 * `GET /admin/callbacks` and `/admin/callbacks/{id}`: callback requests by
 * status, business, phone, creation date and text (the admin API's filters,
 * each in the URL), newest first a page at a time, with bulk retry and cancel
 * of everything the filter matches or the rows selected (Bulk.tsx); one
 * request with its timeline (the request's history), its attempts with
 * Twilio's call sids and errors, the texts sent, its trace id, its
 * department; retry and cancel where its status allows them, and a move to
 * another department while its call is in progress (src/callbacks/Routing.ts).
 */
import * as Effect from "effect/Effect"
import { statusesFor } from "../../../domain/callbacks/BulkCallbacks.ts"
import type { CallbackStatus } from "../../../domain/callbacks/CallbackState.ts"
import { CallbackStatuses } from "../../../domain/callbacks/CallbackState.ts"
import { MAIN, MAX_ROUTES } from "../../../domain/callbacks/Department.ts"
import { MessageStore } from "../../../infra/callbacks/MessageStore.ts"
import * as Businesses from "../../callbacks/Businesses.ts"
import * as Departments from "../../callbacks/Departments.ts"
import * as Requests from "../../callbacks/Requests.ts"
import { operatorRoute } from "../../callbacks/Routing.ts"
import { CallbacksQuery, cancelCallback, retryCallback } from "../../http/contract/AdminCallbacks.ts"
import { RouteBody, routeCallback } from "../../http/contract/Departments.ts"
import { Action, Choice, Facts, href, Layout, type PageContext, Pager, Status, Table, Time } from "../Components.tsx"
import { action, type ConsoleRoutes, page } from "../ConsoleRouter.tsx"
import { formState, PostForm, SelectInput } from "../Inputs.tsx"
import { CallbackBulkControls, callbackBulkPages } from "./Bulk.tsx"
import { departmentName } from "./Departments.tsx"

/** The operator's actions a request's status allows (the transition table's, as the bulk actions read it). */
const CallbackActions = ({ id, status, page: context }: { id: string; status: CallbackStatus; page: PageContext }) => (
  <>
    {statusesFor("retry").includes(status) ? <Action page={context} action={`/admin/callbacks/${id}/retry`} label="Retry" /> : null}
    {statusesFor("cancel").includes(status) ? <Action page={context} action={`/admin/callbacks/${id}/cancel`} label="Cancel" danger confirm="Cancel this callback request?" /> : null}
  </>
)

/**
 * Moving a request to another department: offered while its call is in progress (dialing or connected) and it
 * may still move; the server checks again under the request's lock and refuses (409) what may no longer happen.
 */
const MoveForm = ({ id, status, routes, to, page: context }: { id: string; status: CallbackStatus; routes: number; to: ReadonlyArray<readonly [string, string]>; page: PageContext }) => {
  if (status !== "dialing" && status !== "connected") return null
  if (routes >= MAX_ROUTES) return <p class="hint">{`Moved ${routes} times: it is not moved again.`}</p>
  if (to.length === 0) return <p class="hint">The business has no other department to move it to.</p>
  return (
    <PostForm page={context} action={`/admin/callbacks/${id}/route`} submit="Move to department" class="inline" confirm="Move this request? Its call in progress ends, and the department's chain is called from its first number.">
      <SelectInput state={formState({})} name="department" label="Move to" options={to} hint="Its call ends; the visitor's attempts are not spent by the move." />
    </PostForm>
  )
}

/** `2026-12-06T10:00` (a datetime-local field's value, read as UTC) or a full timestamp. */
const localDate = (at: Date | undefined): string => (at === undefined ? "" : at.toISOString().slice(0, 16))

export const callbackPages = (routes: ConsoleRoutes) => {
  callbackBulkPages(routes) // first: /admin/callbacks/bulk is not a request's id
  page(routes, "/admin/callbacks", CallbacksQuery, ({ query, page: context }) =>
    Effect.gen(function* () {
      const [found, businesses] = yield* Effect.all([
        Requests.list({ ...query, before: query.cursor }),
        Businesses.list(500, undefined)
      ])
      const names = new Map(businesses.items.map((b) => [b.id, b.name]))
      const filters = {
        status: query.status,
        businessId: query.businessId,
        phone: query.phone,
        createdFrom: query.createdFrom?.toISOString(),
        createdBefore: query.createdBefore?.toISOString(),
        q: query.q
      }
      return (
        <Layout title="Callbacks" page={context}>
          <form method="get" action="/admin/callbacks" class="filters" role="search">
            <Choice label="Status" name="status" options={CallbackStatuses} selected={query.status} />
            <Choice label="Business" name="businessId" options={businesses.items.map((b) => [b.id, b.name] as const)} selected={query.businessId} />
            <label>
              Phone
              <input name="phone" type="tel" value={query.phone ?? ""} placeholder="+14155550123" />
            </label>
            <label>
              Created from (UTC)
              <input name="createdFrom" type="datetime-local" value={localDate(query.createdFrom)} />
            </label>
            <label>
              Created before (UTC)
              <input name="createdBefore" type="datetime-local" value={localDate(query.createdBefore)} />
            </label>
            <label>
              Name or note contains
              <input name="q" type="search" value={query.q ?? ""} />
            </label>
            <button type="submit">Filter</button>
          </form>
          <CallbackBulkControls
            filter={{ status: query.status, businessId: query.businessId, phone: query.phone, createdFrom: query.createdFrom, createdBefore: query.createdBefore, q: query.q }}
            page={context}
            selection="callback-selection"
          />
          <div id="callbacks-list" data-live>
            <Table caption="Callback requests, newest first" headers={["select", "created", "business", "visitor", "status", "attempts", "last attempt", ""]} empty={found.items.length === 0} id="callbacks">
              {found.items.map((r) => {
                const last = r.attempts.at(-1)
                return (
                  <tr>
                    <td>
                      <input type="checkbox" name="ids" value={r.id} form="callback-selection" aria-label={`select the request of ${r.name ?? r.phone}, created ${r.createdAt.toISOString()}`} />
                    </td>
                    <td>
                      <a href={`/admin/callbacks/${r.id}`}>
                        <Time at={r.createdAt} />
                      </a>
                    </td>
                    <td>{names.get(r.businessId) ?? r.businessId}</td>
                    <td>{[r.name, r.phone].filter((x) => x !== undefined).join(" · ")}</td>
                    <td>
                      <Status value={r.status} />
                    </td>
                    <td class="num">{r.attempts.length}</td>
                    <td>{last === undefined ? "" : [last.to, last.status, last.error].filter((x) => x !== undefined).join(" · ")}</td>
                    <td>
                      <CallbackActions id={r.id} status={r.status} page={context} />
                    </td>
                  </tr>
                )
              })}
            </Table>
            <Pager path="/admin/callbacks" query={filters} cursor={found.nextCursor} />
          </div>
        </Layout>
      )
    })
  )

  page(routes, "/admin/callbacks/:id", undefined, ({ page: context }, c) =>
    Effect.gen(function* () {
      const request = yield* Requests.showWithHistory(c.req.param("id") ?? "")
      const [business, texts, departments] = yield* Effect.all([
        Businesses.find(request.businessId),
        Effect.flatMap(MessageStore, (messages) => messages.ofRequest(request.id)),
        Departments.list(request.businessId)
      ])
      const name = (key: string) => departmentName(business, departments, key)
      const moveTo = [MAIN, ...departments.map((d) => d.key)].filter((key) => key !== request.department).map((key) => [key, name(key)] as const)
      return (
        <Layout title={`Callback for ${request.name ?? request.phone}`} page={context}>
          <div id="callback-detail" data-live>
            <p>
              <Status value={request.status} /> <CallbackActions id={request.id} status={request.status} page={context} />
            </p>
            <MoveForm id={request.id} status={request.status} routes={request.routes} to={moveTo} page={context} />
            <Facts
              rows={[
                ["id", <code>{request.id}</code>],
                ["business", <a href={`/admin/businesses/${business.id}`}>{business.name}</a>],
                ["visitor", [request.name, request.phone].filter((x) => x !== undefined).join(" · ")],
                ["note", request.note ?? "—"],
                ["priority", request.priority],
                [
                  "department",
                  <a href={request.department === MAIN ? `/admin/businesses/${business.id}` : `/admin/businesses/${business.id}/departments/${request.department}`}>{name(request.department)}</a>
                ],
                ["moved", request.routes === 0 ? "never" : `${request.routes} of at most ${MAX_ROUTES} times`],
                ["calling", request.escalationLevel === 0 ? "the department's own number" : `escalation step ${request.escalationLevel}`],
                ["created", <Time at={request.createdAt} />],
                ["next attempt", <Time at={request.nextAttemptAt} />],
                ["finished", <Time at={request.finishedAt} />],
                ["trace", request.traceparent === undefined ? "—" : <code>{request.traceparent.split("-")[1] ?? request.traceparent}</code>]
              ]}
            />
            <h2>Timeline</h2>
            <Table caption="The request's events, oldest first" headers={["#", "at", "event", "status", "details"]} empty={request.events.length === 0} id="timeline">
              {request.events.map((event) => (
                <tr>
                  <td class="num">{event.seq}</td>
                  <td>
                    <Time at={event.at} />
                  </td>
                  <td>{event.type}</td>
                  <td>
                    <Status value={event.status} />
                  </td>
                  <td>
                    <code>{JSON.stringify(event.data)}</code>
                  </td>
                </tr>
              ))}
            </Table>
            <h2>Call attempts</h2>
            <Table caption="Calls placed, in order" headers={["#", "to", "status", "call sid", "started", "ended", "error"]} empty={request.attempts.length === 0} id="attempts">
              {request.attempts.map((a) => (
                <tr>
                  <td class="num">{a.n}</td>
                  <td>{a.to}</td>
                  <td>
                    <Status value={a.status} />
                  </td>
                  <td>
                    <code>{a.callSid ?? "—"}</code>
                  </td>
                  <td>
                    <Time at={a.startedAt} />
                  </td>
                  <td>
                    <Time at={a.endedAt} />
                  </td>
                  <td>{a.error ?? ""}</td>
                </tr>
              ))}
            </Table>
            <h2>Texts</h2>
            <Table caption="Text messages sent for this request" headers={["kind", "to", "status", "message sid", "sent", "error"]} empty={texts.length === 0} id="texts">
              {texts.map((t) => (
                <tr>
                  <td>{t.kind.replace(/_/g, " ")}</td>
                  <td>{t.to}</td>
                  <td>
                    <Status value={t.status} />
                  </td>
                  <td>
                    <code>{t.sid ?? "—"}</code>
                  </td>
                  <td>
                    <Time at={t.createdAt} />
                  </td>
                  <td>{t.error ?? ""}</td>
                </tr>
              ))}
            </Table>
            <p>
              <a href={href("/admin/callbacks", { phone: request.phone })}>Every request from this phone</a>
            </p>
          </div>
        </Layout>
      )
    })
  )

  for (const [name, event, done, route] of [
    ["retry", "adminRetry", "retried", retryCallback],
    ["cancel", "cancel", "cancelled", cancelCallback]
  ] as const) {
    action(routes, `/admin/callbacks/:id/${name}`, { route }, ({ params }) =>
      Effect.gen(function* () {
        const id = params["id"] ?? ""
        const request = yield* Requests.operatorChange(id, event)
        return { notice: `Callback request ${done}: it is ${request.status.replace(/_/g, " ")} now.`, detail: { status: request.status } }
      })
    )
  }

  action(routes, "/admin/callbacks/:id/route", { route: routeCallback, form: RouteBody }, ({ form, params }) =>
    Effect.gen(function* () {
      const request = yield* operatorRoute(params["id"] ?? "", form.department)
      const [business, departments] = yield* Effect.all([Businesses.find(request.businessId), Departments.list(request.businessId)])
      return {
        notice: `Callback request moved to ${departmentName(business, departments, request.department)}: its chain is called from its first number.`,
        detail: { department: request.department, routes: request.routes }
      }
    })
  )
}
