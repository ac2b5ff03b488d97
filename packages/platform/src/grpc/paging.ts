import { invalid } from '../errors.js';

/** `ewx.v1.PageRequest`: size 0 means 50, at most 500; the token is an offset from a previous page. */
export interface PageRequestLike { readonly pageSize: number; readonly pageToken: string }

export function pageOf(page: PageRequestLike | undefined): { offset: number; size: number } {
  const size = page?.pageSize ? page.pageSize : 50;
  if (size > 500) throw invalid('page.page_size', 'at most 500');
  const token = page?.pageToken ?? '';
  if (token !== '' && !/^\d{1,9}$/.test(token)) throw invalid('page.page_token', 'expected a token from a previous response');
  return { offset: token === '' ? 0 : Number(token), size };
}

/** One page of an ordered list, and the token of the next ('' at the end). */
export function paged<T>(all: readonly T[], page: PageRequestLike | undefined): { items: T[]; next: string } {
  const { offset, size } = pageOf(page);
  return { items: all.slice(offset, offset + size), next: offset + size < all.length ? String(offset + size) : '' };
}
