package dev.lake.bench;

import dev.lake.pool.Buffer;
import dev.lake.pool.FixedArena;
import org.openjdk.jmh.annotations.*;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Time from a release to the wake-up of the request waiting for that capacity (JMH {@code SampleTime}: read the
 * p0.50 and p0.99 rows). A one-slot {@link FixedArena}; before each sample the benchmark thread holds the slot and
 * the waiter is queued; the sample is {@code release()} until the waiter has the buffer.
 * <ul>
 *   <li>{@code blockedThread}: a second thread parked in {@code allocate(timeout)}; the sample ends when that
 *   thread, woken, sets a flag the benchmark thread spins on (so it includes the OS unpark and one cache-line
 *   transfer).</li>
 *   <li>{@code asyncCallback}: an {@code allocateAsync()} future whose callback sets the flag; it runs on the
 *   releasing thread, so this is the cost of the hand-over itself.</li>
 * </ul>
 */
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED")
public class WaitWakeupBench
{
    /** The arena, the parked helper thread and the flags between them. */
    @State(Scope.Thread)
    public static class Parked
    {
        FixedArena arena;
        Buffer held;
        Thread helper;
        volatile boolean woken;
        volatile boolean go;
        volatile boolean stop;

        @Setup(Level.Trial)
        public void start()
        {
            arena = FixedArena.builder(1, 64).name("bench-wakeup").build();
            held = arena.allocate();
            helper = new Thread(this::waitLoop, "parked-waiter");
            helper.setDaemon(true);
            helper.start();
        }

        private void waitLoop()
        {
            try
            {
                while (!stop)
                {
                    final Buffer buffer = arena.allocate(Duration.ofSeconds(30));
                    woken = true;
                    buffer.close();
                    while (!go && !stop)
                    {
                        Thread.onSpinWait();
                    }
                    go = false;
                }
            }
            catch (final Exception ex)
            {
                // closed at tear-down
            }
        }

        /** Before each sample: the slot is ours and the helper is parked waiting for it. */
        @Setup(Level.Invocation)
        public void arm()
        {
            if (held == null)
            {
                while (!woken)
                {
                    Thread.onSpinWait();
                }
                woken = false;
                Buffer b;
                while ((b = arena.tryAllocate()) == null)
                {
                    Thread.onSpinWait();
                }
                held = b;
                go = true;
            }
            while (arena.waiters() == 0)
            {
                Thread.onSpinWait();
            }
        }

        @TearDown(Level.Trial)
        public void stop() throws InterruptedException
        {
            stop = true;
            arena.close();
            helper.join(10_000);
            if (held != null)
            {
                held.close();
            }
        }
    }

    /** A one-slot arena and a queued async request. */
    @State(Scope.Thread)
    public static class Async
    {
        FixedArena arena;
        Buffer held;
        CompletableFuture<Buffer> waiting;
        volatile boolean woken;

        @Setup(Level.Trial)
        public void start()
        {
            arena = FixedArena.builder(1, 64).name("bench-wakeup-async").build();
        }

        @Setup(Level.Invocation)
        public void arm()
        {
            held = arena.allocate();
            woken = false;
            waiting = arena.allocateAsync();
            waiting.thenRun(() -> woken = true);
        }

        @TearDown(Level.Invocation)
        public void disarm()
        {
            waiting.join().close();
        }

        @TearDown(Level.Trial)
        public void stop()
        {
            arena.close();
        }
    }

    /** Release to wake-up of a thread blocked in {@code allocate(timeout)}. */
    @Benchmark
    public boolean blockedThread(final Parked p)
    {
        p.held.close();
        p.held = null;
        while (!p.woken)
        {
            Thread.onSpinWait();
        }
        return true;
    }

    /** Release to completion of an async waiter's callback (runs on the releasing thread). */
    @Benchmark
    public boolean asyncCallback(final Async a)
    {
        a.held.close();
        return a.woken;
    }
}
