/**
 * `GET /admin/businesses` and `/admin/businesses/{id}`: the businesses, and
 * one business with its settings (hours, escalation chain, limits, VIP phones,
 * origins), its keys (by prefix), its webhook endpoints and their latest
 * deliveries, and its callback requests.
 */
import * as Effect from "effect/Effect"
import type { Hours } from "../../../domain/callbacks/Business.ts"
import * as Businesses from "../../callbacks/Businesses.ts"
import * as Keys from "../../callbacks/Keys.ts"
import * as WebhookAdmin from "../../callbacks/WebhookAdmin.ts"
import { BusinessesQuery } from "../../http/contract/AdminCallbacks.ts"
import { Facts, href, Layout, Pager, Status, Table, Time } from "../Components.tsx"
import { type ConsoleRoutes, page } from "../ConsoleRouter.tsx"

const hoursText = (hours: Hours | undefined): string =>
  hours === undefined
    ? "always open"
    : Object.entries(hours)
        .filter(([, intervals]) => intervals !== undefined && intervals.length > 0)
        .map(([day, intervals]) => `${day} ${(intervals ?? []).map(([open, close]) => `${open}–${close}`).join(", ")}`)
        .join("; ")

export const businessPages = (routes: ConsoleRoutes) => {
  page(routes, "/admin/businesses", BusinessesQuery, ({ query, page: context }) =>
    Effect.gen(function* () {
      const found = yield* Businesses.list(query.limit, query.cursor)
      return (
        <Layout title="Businesses" page={context}>
          <Table caption="Businesses" headers={["name", "phone", "time zone", "escalation steps", "max concurrent calls"]} empty={found.items.length === 0} id="businesses">
            {found.items.map((b) => (
              <tr>
                <td>
                  <a href={`/admin/businesses/${b.id}`}>{b.name}</a>
                </td>
                <td>{b.phone}</td>
                <td>{b.timezone}</td>
                <td class="num">{b.escalation.length}</td>
                <td class="num">{b.maxConcurrentCalls}</td>
              </tr>
            ))}
          </Table>
          <Pager path="/admin/businesses" query={{}} cursor={found.nextCursor} />
        </Layout>
      )
    })
  )

  page(routes, "/admin/businesses/:id", undefined, ({ page: context }, c) =>
    Effect.gen(function* () {
      const business = yield* Businesses.find(c.req.param("id") ?? "")
      const [keys, endpoints] = yield* Effect.all([Keys.list(business.id), WebhookAdmin.list(business.id, 100, undefined)])
      const deliveries = yield* Effect.forEach(endpoints.items, (endpoint) => Effect.map(WebhookAdmin.deliveries(endpoint.id, 5, undefined), (page) => [endpoint.id, page.items] as const))
      const latest = new Map(deliveries)
      return (
        <Layout title={business.name} page={context}>
          <Facts
            rows={[
              ["id", <code>{business.id}</code>],
              ["phone", business.phone],
              ["time zone", business.timezone],
              ["country", business.country ?? "—"],
              ["hours", hoursText(business.hours)],
              ["escalation", business.escalation.length === 0 ? "none" : business.escalation.map((s, i) => `${i + 1}. ${s.phone} (${s.ringSeconds} s)`).join("; ")],
              ["ring", `${business.ringSeconds} s`],
              ["max concurrent calls", String(business.maxConcurrentCalls)],
              ["VIP phones", business.vipPhones.length === 0 ? "none" : business.vipPhones.join(", ")],
              ["SMS fallback", business.smsFallback ? "on" : "off"],
              ["allowed origins", business.allowedOrigins.length === 0 ? "none" : business.allowedOrigins.join(", ")],
              ["updated", <Time at={business.updatedAt} />]
            ]}
          />
          <p>
            <a href={href("/admin/callbacks", { businessId: business.id })}>This business's callback requests</a>
          </p>
          <h2>Keys</h2>
          <Table caption="API keys" headers={["prefix", "kind", "label", "created", "revoked"]} empty={keys.length === 0} id="keys">
            {keys.map((k) => (
              <tr>
                <td>
                  <code>{`${k.prefix}…`}</code>
                </td>
                <td>{k.kind}</td>
                <td>{k.label ?? ""}</td>
                <td>
                  <Time at={k.createdAt} />
                </td>
                <td>
                  <Time at={k.revokedAt} />
                </td>
              </tr>
            ))}
          </Table>
          <h2>Webhook endpoints</h2>
          <Table caption="Webhook endpoints and their latest deliveries" headers={["url", "state", "events", "latest deliveries"]} empty={endpoints.items.length === 0} id="webhooks">
            {endpoints.items.map((e) => (
              <tr>
                <td>{e.url}</td>
                <td>
                  <Status value={e.enabled ? "enabled" : "disabled"} />
                  {e.disabledReason === undefined ? null : ` ${e.disabledReason}`}
                </td>
                <td>{e.eventTypes.length === 0 ? "every event" : e.eventTypes.join(", ")}</td>
                <td>
                  <ul>
                    {(latest.get(e.id) ?? []).map((d) => (
                      <li>
                        <Time at={d.at} /> {`${d.eventType} → ${d.outcome}${d.statusCode === undefined ? "" : ` ${d.statusCode}`}${d.error === undefined ? "" : `: ${d.error}`}`}
                      </li>
                    ))}
                  </ul>
                </td>
              </tr>
            ))}
          </Table>
        </Layout>
      )
    })
  )
}
