package dev.lake.pool;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import dev.lake.memory.StaleHandleException;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Review of 046b3cf: the re-validation added to retain(h) / length(h) reports its refusal as a "read". */
class SeventeenthFixReviewPoolTest
{
    /**
     * retain(h) of a handle released (and its slot claimed again, still writing) between retain's liveness check and
     * its frozen-length read now throws StaleHandleException, as documented, but from validate(), whose message says
     * "cannot read slot ...", not "cannot retain slot ..." as every other stale refusal of retain(h) does.
     */
    @Test
    void aStaleRetainCaughtByTheNewRevalidationNamesRetainNotRead() throws Exception
    {
        try (FixedArena arena = FixedArena.builder(1, 64).build())
        {
            final AtomicLong published = new AtomicLong();
            final AtomicReference<String> wrong = new AtomicReference<>();
            final AtomicBoolean stop = new AtomicBoolean();
            Workers.race(4, 3, stop, () ->
            {
                final long h = arena.tryAllocateHandle();
                if (h == FixedArena.NO_HANDLE)
                {
                    return;
                }
                published.set(h); // published while writing: retain(h) must say "not frozen", or stale
                for (int i = 0; i < 64; i += 8)
                {
                    arena.putLong(h, i, h);
                }
                arena.release(h);
            }, () ->
            {
                final long h = published.get();
                if (h == 0)
                {
                    return;
                }
                try
                {
                    arena.retain(h);
                    arena.release(h);
                }
                catch (final StaleHandleException stale)
                {
                    if (!stale.getMessage().contains("retain"))
                    {
                        wrong.compareAndSet(null, stale.getMessage());
                        stop.set(true);
                    }
                }
                catch (final IllegalStateException notFrozen)
                {
                    // live and writing: the documented answer
                }
            });
            assertEquals(null, wrong.get(), "retain(h) refused a stale handle with a message about another operation");
        }
    }
}
