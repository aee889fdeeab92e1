/** What `switchboard_build_info`'s runtime label should say for a server in this test process: Node's or Deno's version. */
const deno = (globalThis as { Deno?: { version: { deno: string } } }).Deno
export const thisRuntime: string = deno === undefined ? `node/${process.versions.node}` : `deno/${deno.version.deno}`
