package dev.lake.examples.flagship;

/**
 * A price-level book per instrument, on preallocated heap arrays: the state the engine updates. Its checksum
 * must come out the same for every transport, which shows each variant processed the same messages.
 */
final class OrderBook
{
    private final long[] price = new long[MarketDataPipeline.INSTRUMENTS * MarketDataPipeline.LEVELS * 2];
    private final long[] quantity = new long[price.length];
    private long updates;

    void apply(final int instrument, final int level, final boolean buy, final boolean delete, final long px, final long qty)
    {
        final int i = ((instrument * MarketDataPipeline.LEVELS) + level) * 2 + (buy ? 0 : 1);
        price[i] = delete ? 0 : px;
        quantity[i] = delete ? 0 : qty;
        updates++;
    }

    long checksum()
    {
        long sum = updates;
        for (int i = 0; i < price.length; i++)
        {
            sum = sum * 31 + price[i] * 7 + quantity[i];
        }
        return sum;
    }
}
