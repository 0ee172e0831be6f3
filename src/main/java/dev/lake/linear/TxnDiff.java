package dev.lake.linear;

/**
 * What a {@link Transaction} has allocated so far, from {@link Transaction#diff()}.
 *
 * @param bytesAllocated  bytes allocated since the transaction opened, alignment padding included (what its
 *                        budget counts).
 * @param blocksTouched   blocks its allocations landed in.
 * @param allocationCount allocations made (a copy or a vector growth that relocates counts as one; a growth
 *                        in place counts as none).
 */
public record TxnDiff(long bytesAllocated, int blocksTouched, long allocationCount)
{
}
