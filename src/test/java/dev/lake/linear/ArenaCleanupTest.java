package dev.lake.linear;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class ArenaCleanupTest
{
    @Test
    void rewindRunsActionsRegisteredSinceTheCheckpointNewestFirst()
    {
        final List<String> ran = new ArrayList<>();
        try (Arena arena = new Arena())
        {
            arena.defer(() -> ran.add("before"));
            final Checkpoint cp = arena.checkpoint();
            arena.copyOfUtf8("hello");
            arena.defer(() -> ran.add("hello"));
            arena.deferClose(() -> ran.add("world"));
            arena.rewind(cp);
            assertEquals(List.of("world", "hello"), ran);
            arena.rewind(cp);
            assertEquals(2, ran.size(), "each action runs once");
        }
        assertEquals(List.of("world", "hello", "before"), ran, "close runs the rest");
    }

    @Test
    void actionRegisteredWithoutAllocatingStillRunsOnRewindToTheSamePosition()
    {
        final List<String> ran = new ArrayList<>();
        try (Arena arena = new Arena())
        {
            final Checkpoint cp = arena.checkpoint();
            arena.defer(() -> ran.add("x"));
            arena.rewind(cp);
            assertEquals(List.of("x"), ran);
        }
    }

    @Test
    void rollbackRunsTheTransactionsActionsAndCommitKeepsThemForTheEnclosingScope()
    {
        final List<String> ran = new ArrayList<>();
        try (Arena arena = new Arena())
        {
            try (Transaction outer = arena.transaction())
            {
                outer.defer(() -> ran.add("outer"));
                try (Transaction inner = outer.savepoint())
                {
                    inner.defer(() -> ran.add("inner-rolled-back"));
                }
                assertEquals(List.of("inner-rolled-back"), ran);
                try (Transaction inner = outer.savepoint())
                {
                    inner.deferClose(() -> ran.add("inner-committed"));
                    inner.commit();
                }
                assertEquals(1, ran.size(), "commit runs nothing");
            }
            assertEquals(List.of("inner-rolled-back", "inner-committed", "outer"), ran);
            try (Transaction tx = arena.transaction())
            {
                tx.defer(() -> ran.add("kept"));
                tx.commit();
            }
            assertEquals(3, ran.size());
            arena.reset();
            assertEquals("kept", ran.get(3), "reset runs everything");
        }
    }

    @Test
    void everyActionRunsWhenSomeFailAndTheFirstFailureIsRethrownWithOthersSuppressed()
    {
        final List<String> ran = new ArrayList<>();
        try (Arena arena = new Arena())
        {
            final Checkpoint cp = arena.checkpoint();
            arena.defer(() -> ran.add("a"));
            arena.defer(() ->
            {
                ran.add("b");
                throw new IllegalStateException("second");
            });
            arena.defer(() -> ran.add("c"));
            arena.defer(() ->
            {
                ran.add("d");
                throw new IllegalArgumentException("first");
            });
            arena.allocate(64, 8);
            final IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, () -> arena.rewind(cp));
            assertEquals("first", ex.getMessage());
            assertEquals(1, ex.getSuppressed().length);
            assertEquals("second", ex.getSuppressed()[0].getMessage());
            assertEquals(List.of("d", "c", "b", "a"), ran);
            assertEquals(0, arena.bytesAllocated(), "the rewind completed");
        }
    }

    @Test
    void checkedFailureOfAnAutoCloseableIsWrapped()
    {
        try (Arena arena = new Arena())
        {
            arena.deferClose(() ->
            {
                throw new IOException("disk");
            });
            final CleanupException ex = assertThrows(CleanupException.class, arena::reset);
            assertInstanceOf(IOException.class, ex.getCause());
        }
    }

    @Test
    void failingActionOnRollbackStillEndsTheTransaction()
    {
        try (Arena arena = new Arena())
        {
            final Transaction tx = arena.transaction();
            tx.allocate(8, 8);
            tx.defer(() ->
            {
                throw new IllegalStateException("cleanup");
            });
            assertThrows(IllegalStateException.class, tx::close);
            assertEquals(0, arena.transactionDepth());
            assertEquals(0, arena.bytesAllocated());
            assertFalse(tx.isOpen());
        }
    }

    @Test
    void closeFreesMemoryEvenWhenAnActionFails()
    {
        final long baseline = dev.lake.memory.NativeMemory.reservedBytes();
        final Arena arena = new Arena();
        arena.defer(() ->
        {
            throw new IllegalStateException("late");
        });
        assertThrows(IllegalStateException.class, arena::close);
        assertTrue(arena.isClosed());
        assertEquals(baseline, dev.lake.memory.NativeMemory.reservedBytes());
    }

    @Test
    void actionsCannotRewindResetCloseOrOpenTransactions()
    {
        final List<Throwable> seen = new ArrayList<>();
        try (Arena arena = new Arena())
        {
            final Checkpoint cp = arena.checkpoint();
            arena.defer(() -> seen.add(assertThrows(IllegalStateException.class, () -> arena.rewind(cp))));
            arena.defer(() -> seen.add(assertThrows(IllegalStateException.class, arena::reset)));
            arena.defer(() -> seen.add(assertThrows(IllegalStateException.class, arena::close)));
            arena.defer(() -> seen.add(assertThrows(IllegalStateException.class, arena::transaction)));
            arena.defer(() -> arena.allocate(8, 8)); // allowed: freed by the rewind that runs it
            arena.allocate(16, 8);
            arena.rewind(cp);
            assertEquals(4, seen.size());
            assertEquals(0, arena.bytesAllocated());
            assertFalse(arena.isClosed());
        }
    }

    @Test
    void closingTheArenaRunsActionsOfOpenTransactionsAndEndsThem()
    {
        final List<String> ran = new ArrayList<>();
        final Arena arena = new Arena();
        final Transaction tx = arena.transaction();
        tx.defer(() -> ran.add("tx"));
        arena.close();
        assertEquals(List.of("tx"), ran);
        assertFalse(tx.isOpen());
        tx.close();
    }
}
