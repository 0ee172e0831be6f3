package dev.lake.examples;

import dev.lake.linear.Lake;
import dev.lake.memory.NativeMemory;
import dev.lake.thread.AffinityHint;
import dev.lake.thread.ThreadLakes;

import java.util.ArrayList;
import java.util.List;

/**
 * thread_lakes: every worker thread gets a private lake from a bounded pool, uses it for scratch inside
 * {@code with(...)} (the position is restored afterwards), and the lakes of finished threads go back to the
 * pool, so native memory stays at the pool's bound however many threads come and go.
 */
public final class ThreadLakesExample
{
    private ThreadLakesExample()
    {
    }

    /**
     * @param args ignored.
     * @throws InterruptedException if interrupted while joining workers.
     */
    public static void main(final String[] args) throws InterruptedException
    {
        final long baseline = NativeMemory.reservedBytes();
        try (ThreadLakes lakes = ThreadLakes.builder(256 * 1024).poolBound(2).autoInit(true)
            .affinity(AffinityHint.none()).build())
        {
            for (int round = 0; round < 3; round++)
            {
                final List<Thread> workers = new ArrayList<>();
                for (int w = 0; w < 4; w++)
                {
                    final int id = round * 4 + w;
                    final Thread worker = new Thread(() ->
                    {
                        final long sum = lakes.with(lake -> sumOfSquares(lake, 1000 + id));
                        System.out.printf("worker %2d: sum of squares %,d, lake used after with(): %d B%n",
                            id, sum, lakes.current().used());
                    }, "worker-" + id);
                    workers.add(worker);
                    worker.start();
                }
                for (final Thread worker : workers)
                {
                    worker.join();
                }
                lakes.reap();
                System.out.printf("round %d: %s, native bytes held: %,d%n",
                    round, lakes.stats(), NativeMemory.reservedBytes() - baseline);
            }
        }
        System.out.printf("closed: native bytes held: %,d%n", NativeMemory.reservedBytes() - baseline);
    }

    private static long sumOfSquares(final Lake lake, final int n)
    {
        final int at = lake.allocateLongs(n);
        for (int i = 0; i < n; i++)
        {
            lake.buffer().putLong(at + i * Long.BYTES, (long)i * i);
        }
        long sum = 0;
        for (int i = 0; i < n; i++)
        {
            sum += lake.buffer().getLong(at + i * Long.BYTES);
        }
        return sum;
    }
}
