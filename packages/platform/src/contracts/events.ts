// Moved to @ewx/contracts; re-exported so that existing importers of @ewx/platform keep compiling.
export * from '@ewx/contracts/published';
