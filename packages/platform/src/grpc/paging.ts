import { invalid } from '../errors.js';

/** `ewx.v1.PageRequest`: size 0 means 50, at most 500; the token comes from a previous page. */
export interface PageRequestLike {
  readonly pageSize: number;
  readonly pageToken: string;
}

const BAD_TOKEN = 'expected a token from a previous response';

function pageSizeOf(page: PageRequestLike | undefined): number {
  const size = page?.pageSize ? page.pageSize : 50;
  if (size > 500) throw invalid('page.page_size', `at most 500, got ${size}`);
  return size;
}

/** Offset paging: the token is the offset of the next item. */
export function pageOf(page: PageRequestLike | undefined): { offset: number; size: number } {
  const size = pageSizeOf(page);
  const token = page?.pageToken ?? '';
  if (token !== '' && !/^\d{1,9}$/.test(token)) throw invalid('page.page_token', BAD_TOKEN);
  return { offset: token === '' ? 0 : Number(token), size };
}

/**
 * Paging by an increasing number (a listing's order), stable while items are added or change what
 * a filter selects: the token is `s` and the number of the previous page's last item; the page
 * holds the items after it. (An offset would skip or repeat items when earlier ones leave the filter
 * between two pages: an active round that closes while a worker pages through the active ones.)
 */
export function pageAfterOf(page: PageRequestLike | undefined): { after: number; size: number } {
  const size = pageSizeOf(page);
  const token = page?.pageToken ?? '';
  if (token !== '' && !/^s\d{1,15}$/.test(token)) throw invalid('page.page_token', BAD_TOKEN);
  return { after: token === '' ? 0 : Number(token.slice(1)), size };
}

/** The token of the page after the item numbered `last` (see {@link pageAfterOf}). */
export const tokenAfter = (last: number): string => `s${last}`;

/** One page of an ordered list, and the token of the next ('' at the end). */
export function paged<T>(all: readonly T[], page: PageRequestLike | undefined): { items: T[]; next: string } {
  const { offset, size } = pageOf(page);
  return { items: all.slice(offset, offset + size), next: offset + size < all.length ? String(offset + size) : '' };
}

/**
 * Key paging over sorted string keys, stable while keys are added: the token is the last key of
 * the previous page (base64url). A token that is not one (not canonical base64url, or not a key
 * `isKey` accepts) is refused.
 */
export function pagedByKey(keys: Iterable<string>, page: PageRequestLike | undefined, isKey: (k: string) => boolean): { items: string[]; next: string } {
  const size = pageSizeOf(page);
  const token = page?.pageToken ?? '';
  let after: string | undefined;
  if (token !== '') {
    after = /^[A-Za-z0-9_-]{1,400}$/.test(token) ? Buffer.from(token, 'base64url').toString('utf8') : '';
    if (Buffer.from(after, 'utf8').toString('base64url') !== token || !isKey(after)) throw invalid('page.page_token', BAD_TOKEN);
  }
  const sorted = [...keys].sort().filter((k) => after === undefined || k > after);
  const items = sorted.slice(0, size);
  return { items, next: sorted.length > size ? Buffer.from(items[items.length - 1]!, 'utf8').toString('base64url') : '' };
}
