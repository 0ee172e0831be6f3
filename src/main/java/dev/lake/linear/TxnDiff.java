package dev.lake.linear;

/**
 * What a {@link Transaction} has allocated so far, from {@link Transaction#diff()}.
 *
 * <p>The bytes are what the transaction holds now: derived from positions, they drop when a savepoint rolls
 * back or a checkpoint inside the transaction is rewound to. The allocation count is work done: it counts every
 * allocation made since the transaction opened, including ones a savepoint rollback, a rewind or a refused
 * placement undid since (restoring it would cost a stored count per checkpoint).
 *
 * @param bytesAllocated  bytes allocated since the transaction opened and still held, alignment padding
 *                        included (what its budget counts).
 * @param blocksTouched   blocks its allocations landed in, counted from positions: the block it opened in
 *                        (if it holds any of its bytes) and every block after it up to the current one; a block
 *                        the position reached that holds nothing yet (a vector that gave back all it took from
 *                        a new block) still counts.
 * @param allocationCount allocations made, undone ones included (a copy or a vector growth that relocates
 *                        counts as one; a growth in place counts as none).
 */
public record TxnDiff(long bytesAllocated, int blocksTouched, long allocationCount)
{
}
