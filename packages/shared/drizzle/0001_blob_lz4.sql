-- XML compresses well and lz4 is several times cheaper than the default pglz on write and read.
ALTER TABLE "blobs" ALTER COLUMN "content" SET COMPRESSION lz4;
