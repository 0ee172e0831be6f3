package dev.lake.examples;

import dev.lake.memory.NativeMemory;
import dev.lake.pool.AllocationTimeoutException;
import dev.lake.pool.Buffer;
import dev.lake.pool.Bytes;
import dev.lake.pool.FixedArena;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * async_alloc (the arena-alligator seed's fourth example): wait for capacity instead of failing. With every slot
 * taken, {@code allocateAsync()} returns a future that completes when a slot is released, and
 * {@code allocate(Duration)} blocks up to a timeout and then throws a clear error holding nothing.
 */
public final class AsyncAlloc
{
    private AsyncAlloc()
    {
    }

    /**
     * @param args ignored.
     * @throws Exception if a wait is interrupted or a future fails.
     */
    public static void main(final String[] args) throws Exception
    {
        final long baseline = NativeMemory.reservedBytes();
        try (FixedArena arena = FixedArena.builder(2, 1024).build())
        {
            final Buffer first = arena.allocate();
            final Buffer second = arena.allocate();
            System.out.printf("both slots taken: tryAllocate() -> %s%n", arena.tryAllocate());

            final CompletableFuture<Buffer> waiting = arena.allocateAsync();
            System.out.printf("allocateAsync() while full: done=%b, waiters=%d%n", waiting.isDone(), arena.waiters());

            first.putLong(42L);
            final Bytes bytes = first.freeze();
            bytes.release();                                  // the slot goes straight to the waiter
            final Buffer handedOver = waiting.get(10, TimeUnit.SECONDS);
            System.out.printf("after a release: future done=%b, buffer capacity %d B%n",
                waiting.isDone(), handedOver.capacity());

            try
            {
                arena.allocate(Duration.ofMillis(50));
            }
            catch (final AllocationTimeoutException ex)
            {
                System.out.println("allocate(50 ms) while full: " + ex.getMessage());
            }

            handedOver.close();
            second.close();
            System.out.printf("wait metrics: %s%n", arena.metrics().waits());
        }
        System.out.printf("closed: native bytes held: %,d%n", NativeMemory.reservedBytes() - baseline);
    }
}
