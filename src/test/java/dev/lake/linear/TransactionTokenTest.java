package dev.lake.linear;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** The primitive transaction tier: the same transactions as {@link Transaction}, named by {@code long} tokens. */
class TransactionTokenTest
{
    @Test
    void commitKeepsAndEndWithoutCommitRollsBack()
    {
        try (Arena arena = new Arena())
        {
            final long kept = arena.beginTransaction();
            arena.allocate(64, 8);
            assertEquals(1, arena.transactionDepth());
            arena.commitTransaction(kept);
            arena.endTransaction(kept);
            assertEquals(64, arena.bytesAllocated());
            assertEquals(0, arena.transactionDepth());

            final long dropped = arena.beginTransaction();
            arena.allocate(100, 8);
            arena.endTransaction(dropped);
            assertEquals(64, arena.bytesAllocated());
            assertEquals(0, arena.transactionDepth());
            arena.endTransaction(dropped);
            assertEquals(64, arena.bytesAllocated(), "ending twice does nothing");
        }
    }

    @Test
    void tokensNestLikeSavepointsAndOuterRollbackDiscardsCommittedInnerWork()
    {
        try (Arena arena = Arena.withCapacity(4096))
        {
            final long outer = arena.beginTransaction();
            arena.allocate(16, 8);
            final long inner = arena.beginTransaction();
            assertEquals(2, arena.transactionDepth());
            arena.allocate(32, 8);
            arena.commitTransaction(inner);
            assertEquals(48, arena.bytesAllocated());
            final long rolled = arena.beginTransaction();
            arena.allocate(512, 8);
            arena.endTransaction(rolled);
            assertEquals(48, arena.bytesAllocated(), "inner rollback leaves outer work");
            arena.endTransaction(outer);
            assertEquals(0, arena.bytesAllocated(), "outer rollback discards committed inner work");
            assertEquals(0, arena.transactionDepth());
        }
    }

    @Test
    void misuseOfTokensIsAClearErrorAndChangesNothing()
    {
        try (Arena arena = new Arena())
        {
            final long outer = arena.beginTransaction();
            final long inner = arena.beginTransaction();
            arena.allocate(8, 8);
            assertThrows(IllegalStateException.class, () -> arena.commitTransaction(outer),
                "an outer transaction cannot commit while a savepoint is open");
            assertEquals(2, arena.transactionDepth());
            assertEquals(8, arena.bytesAllocated());

            arena.commitTransaction(inner);
            assertThrows(IllegalStateException.class, () -> arena.commitTransaction(inner), "committing twice");
            assertEquals(1, arena.transactionDepth());

            arena.endTransaction(outer);
            assertThrows(IllegalStateException.class, () -> arena.commitTransaction(outer), "after rollback");
            assertThrows(IllegalStateException.class, () -> arena.commitTransaction(12345L << 16 | 1),
                "a made-up token");
            assertEquals(0, arena.transactionDepth());
            assertEquals(0, arena.bytesAllocated());
        }
    }

    @Test
    void tokensAndHandlesShareOneMechanismAndCleanupsRunOnRollback()
    {
        final List<String> ran = new ArrayList<>();
        try (Arena arena = new Arena())
        {
            final long token = arena.beginTransaction();
            try (Transaction savepoint = arena.transaction())
            {
                assertEquals(2, savepoint.depth());
                arena.defer(() -> ran.add("inner"));
                savepoint.commit();
            }
            arena.defer(() -> ran.add("outer"));
            arena.endTransaction(token);
            assertEquals(List.of("outer", "inner"), ran, "LIFO on rollback of the token");
        }
    }

    @Test
    void endingAfterTheArenaClosedDoesNothing()
    {
        final Arena arena = new Arena();
        final long token = arena.beginTransaction();
        arena.close();
        arena.endTransaction(token);
        assertThrows(IllegalStateException.class, arena::beginTransaction);
    }
}
