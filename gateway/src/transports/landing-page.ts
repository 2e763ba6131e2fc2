import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import type { GraphQLServerContext } from '@apollo/server';

/**
 * Apollo Sandbox's landing page (development only), rendered by Apollo Server's own landing-page
 * plugin through its public plugin interface: the one part of Apollo Server the gateway keeps, as
 * the page is versioned and CSP-hardened with it. Nothing else of Apollo Server runs.
 */
export async function sandboxLandingPage(): Promise<() => Promise<string>> {
  const plugin = ApolloServerPluginLandingPageLocalDefault({ embed: true, includeCookies: false });
  // The plugin reads nothing of the server it is started with.
  const listener = await plugin.serverWillStart?.({} as GraphQLServerContext);
  const page = await listener?.renderLandingPage?.();
  if (!page) throw new Error('the landing page plugin rendered no page');
  const { html } = page;
  return typeof html === 'string' ? async () => html : html;
}

/** Whether a GET is a browser asking for the page rather than a GraphQL request. */
export function wantsLandingPage(method: string | undefined, search: URLSearchParams, accept: string | undefined): boolean {
  return method === 'GET' && !search.has('query') && !search.has('extensions') && !!accept && /\btext\/html\b/.test(accept);
}
