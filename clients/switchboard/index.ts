/**
 * A typed client of the Switchboard HTTP API: openapi-fetch over the types
 * generated from the OpenAPI document (schema.d.ts; regenerate both with
 * `npm run generate:client`). Paths, parameters, bodies and responses are
 * checked by the compiler:
 *
 *   const switchboard = createSwitchboardClient({ baseUrl: "https://callbacks.example.com", adminToken })
 *   const { data, error } = await switchboard.GET("/v1/callbacks/{id}", { params: { path: { id } } })
 */
import createClient, { type Client, type ClientOptions } from "openapi-fetch"
import type { components, operations, paths } from "./schema.d.ts"

export type { components, operations, paths }

/** The API's shared schemas (`Callback`, `Business`, `Problem`, ...). */
export type Schemas = components["schemas"]

export type SwitchboardClient = Client<paths>

export interface SwitchboardClientOptions extends Omit<ClientOptions, "baseUrl"> {
  /** Where the API is served, e.g. `http://127.0.0.1:3000` (no trailing path). */
  readonly baseUrl: string
  /** ADMIN_TOKEN: sent as `Authorization: Bearer <token>` with every request, for the admin API. */
  readonly adminToken?: string | undefined
}

export const createSwitchboardClient = ({ adminToken, ...options }: SwitchboardClientOptions): SwitchboardClient => {
  const client = createClient<paths>(options)
  if (adminToken !== undefined) {
    client.use({
      onRequest: ({ request }) => {
        request.headers.set("Authorization", `Bearer ${adminToken}`)
        return request
      }
    })
  }
  return client
}
