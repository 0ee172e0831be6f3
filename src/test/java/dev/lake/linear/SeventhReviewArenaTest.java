package dev.lake.linear;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The seventh review of the growable arena (Arena, Transaction, Checkpoint, ArenaVec, ArenaView): each bug's test
 * fails without its fix; the contract tests pin documented behaviour that no earlier test covered.
 */
class SeventhReviewArenaTest
{
    /** A resource that is also a task: what {@code deferClose} must do with it is close it. */
    private static final class Task implements Runnable, AutoCloseable
    {
        private final List<String> log;
        private final boolean failClose;

        Task(final List<String> log, final boolean failClose)
        {
            this.log = log;
            this.failClose = failClose;
        }

        @Override
        public void run()
        {
            log.add("run");
        }

        @Override
        public void close() throws IOException
        {
            log.add("close");
            if (failClose)
            {
                throw new IOException("close failed");
            }
        }
    }

    /**
     * Cleanup actions were told apart by type when they ran (a Runnable was run), so a resource registered with
     * deferClose that also implements Runnable had its run() called instead of its close(): the work ran again and
     * the resource was never closed.
     */
    @Test
    void deferCloseClosesAResourceThatIsAlsoARunnable()
    {
        final List<String> log = new ArrayList<>();
        try (Arena arena = new Arena())
        {
            final Checkpoint cp = arena.checkpoint();
            arena.deferClose(new Task(log, false));
            arena.rewind(cp);
            assertEquals(List.of("close"), log);
            try (Transaction tx = arena.transaction())
            {
                tx.deferClose(new Task(log, false));
            }
            assertEquals(List.of("close", "close"), log);
            arena.deferClose(new Task(log, true));
            final CleanupException ex = assertThrows(CleanupException.class, arena::reset);
            assertInstanceOf(IOException.class, ex.getCause(), "the checked failure of close() is wrapped");
            assertEquals(List.of("close", "close", "close"), log);
            assertEquals(0, arena.bytesAllocated());
            // defer() of the same object still runs it
            arena.defer(new Task(log, false));
        }
        assertEquals(List.of("close", "close", "close", "run"), log);
    }
}
