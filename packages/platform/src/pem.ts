export { pemFileFrom } from '@ewx/client/config';
