package dev.lake.examples.flagship;

import dev.lake.examples.sbe.MdIncrementDecoder;
import dev.lake.examples.sbe.Side;
import dev.lake.examples.sbe.UpdateAction;
import dev.lake.linear.Arena;
import dev.lake.linear.Lake;
import dev.lake.thread.ThreadLakes;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * The engine's per-message work, the same for every transport: decode the entries into scratch memory of
 * the engine thread's own lake inside a sandbox that is rolled back after the message, then build the
 * order-book update as records in an {@link Arena} transaction, apply them and commit. The arena is reset
 * every {@link #RESET_EVERY} messages, so its blocks stay warm and nothing is freed or allocated.
 */
final class EngineWork implements AutoCloseable
{
    static final int RESET_EVERY = 1024;
    private static final int RECORD = 32;

    private final OrderBook book;
    private final ThreadLakes lakes = ThreadLakes.builder(64 * 1024).poolBound(0).build();
    private final Arena arena = Arena.withCapacity(RESET_EVERY * MarketDataPipeline.ENTRIES * RECORD + 4096);
    private final Lake lake;
    private long messages;

    /** Must be built on the engine thread: it takes that thread's lake. */
    EngineWork(final OrderBook book)
    {
        this.book = book;
        this.lake = lakes.init();
    }

    void apply(final MdIncrementDecoder decoder)
    {
        final int instrument = decoder.instrumentId();
        final long scratch = lake.beginSandbox(); // the primitive tier of Sandbox: no object
        try
        {
            final MdIncrementDecoder.EntriesDecoder entries = decoder.entries();
            final int count = entries.count();
            final int at = decodeIntoScratch(entries, count);
            final long tx = arena.beginTransaction(); // the primitive tier of Transaction: no object
            try
            {
                buildAndApply(instrument, at, count);
                arena.commitTransaction(tx);
            }
            finally
            {
                arena.endTransaction(tx);
            }
        }
        finally
        {
            lake.endSandbox(scratch); // never committed: the scratch is rolled back
        }
        if (++messages % RESET_EVERY == 0)
        {
            arena.reset();
        }
    }

    /** Scratch: the entries as longs [price, quantity, level, side|action], rolled back with the sandbox. */
    private int decodeIntoScratch(final MdIncrementDecoder.EntriesDecoder entries, final int count)
    {
        final UnsafeBuffer memory = lake.buffer();
        final int at = lake.allocateLongs(count * 4);
        int i = 0;
        while (entries.hasNext())
        {
            entries.next();
            final int base = at + i * 4 * Long.BYTES;
            memory.putLong(base, entries.price());
            memory.putLong(base + 8, entries.quantity());
            memory.putLong(base + 16, entries.level());
            memory.putLong(base + 24,
                (entries.side() == Side.BUY ? 0 : 1) | (entries.action() == UpdateAction.DELETE ? 2 : 0));
            i++;
        }
        return at;
    }

    /** The order-book update as arena records inside the transaction, applied to the book. */
    private void buildAndApply(final int instrument, final int at, final int count)
    {
        final UnsafeBuffer memory = lake.buffer();
        for (int e = 0; e < count; e++)
        {
            final int base = at + e * 4 * Long.BYTES;
            final long ref = arena.allocate(RECORD, Long.BYTES); // belongs to the innermost open transaction
            final UnsafeBuffer block = arena.buffer(ref);
            final int offset = Arena.offset(ref);
            block.putLong(offset, memory.getLong(base));
            block.putLong(offset + 8, memory.getLong(base + 8));
            block.putLong(offset + 16, memory.getLong(base + 16));
            block.putLong(offset + 24, memory.getLong(base + 24));
            final long flags = block.getLong(offset + 24);
            book.apply(instrument, (int)block.getLong(offset + 16), (flags & 1) == 0, (flags & 2) != 0,
                block.getLong(offset), block.getLong(offset + 8));
        }
    }

    @Override
    public void close()
    {
        arena.close();
        lakes.release();
        lakes.close();
    }
}
