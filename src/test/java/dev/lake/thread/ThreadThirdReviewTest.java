package dev.lake.thread;

import dev.lake.linear.Lake;
import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Bugs a third review of the thread lakes found, each test failing on the code before its fix.
 */
class ThreadThirdReviewTest
{
    private static final int CAPACITY = 64 * 1024;

    /**
     * A pooled lake was handed to the next thread with the zeroing switch its former owner left on: the next owner,
     * which never asked for zeroing, had every allocation wipe memory (O(size)) and lost the allocation fast path,
     * depending on which pooled lake it drew. init() now hands out every lake as built (zeroing off), after the
     * reset has wiped what the former owner left.
     */
    @Test
    void aPooledLakeDoesNotCarryItsFormerOwnersZeroingSwitch() throws Exception
    {
        for (final boolean strict : new boolean[] {false, true})
        {
            try (ThreadLakes lakes = ThreadLakes.builder(CAPACITY).poolBound(1).strict(strict).build())
            {
                final AtomicReference<Lake> first = new AtomicReference<>();
                final Thread former = new Thread(() ->
                {
                    final Lake lake = lakes.init();
                    first.set(lake);
                    lake.setZeroing(true); // for its own secrets
                    lake.buffer().putLong(lake.allocate(8), 0x5EC7E7L);
                    lakes.release();
                }, "former-owner");
                former.start();
                former.join();

                final AtomicBoolean same = new AtomicBoolean();
                final AtomicBoolean zeroing = new AtomicBoolean(true);
                final AtomicReference<Long> leftover = new AtomicReference<>();
                final Thread next = new Thread(() ->
                {
                    final Lake lake = lakes.init();
                    same.set(lake == first.get());
                    zeroing.set(lake.isZeroing());
                    leftover.set(lake.buffer().getLong(0));
                    lakes.release();
                }, "next-owner");
                next.start();
                next.join();

                assertTrue(same.get(), "the pooled lake was reused");
                assertFalse(zeroing.get(), "strict " + strict + ": the next owner got its predecessor's zeroing switch");
                assertEquals(0L, leftover.get(), "the former owner's zeroing reset wiped its bytes");
            }
        }
    }
}
