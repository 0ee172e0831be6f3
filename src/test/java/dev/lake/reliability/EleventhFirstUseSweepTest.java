package dev.lake.reliability;

import dev.lake.testing.ChildJvm;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The eleventh round's first-use sweep: every release, close, rewind, reset and end-of-scope path of every allocator,
 * each as the first operation of its kind in a fresh child JVM on a 24 MiB heap filled to the brim, retried after each
 * {@link OutOfMemoryError} (see {@link EleventhFirstUseSweepProbe}). Whatever the path links or resolves the first
 * time it runs in a JVM meets the full heap there; the path must then throw with nothing done, so that a retry does
 * its work exactly once. Paths found sound keep their mode: it pins the behaviour. Modes named {@code remote-*} run
 * the operation on a thread other than the allocating one; {@code *-waiter-*} modes release the only slot while a
 * request waits for it (a dispatch pass the full heap refuses ends there and the next request serves it, as
 * pool.md documents: {@code served-at-once false served true}).
 */
class EleventhFirstUseSweepTest
{
    private static final String POOL = " live-slots 0 region-freed true";
    private static final String SLICE = " live-bytes 0";

    static Stream<Arguments> paths()
    {
        return Stream.of(
            Arguments.of("lake-droplet-close", " position 0"),
            Arguments.of("lake-rewind", ""),
            Arguments.of("lake-reset-to-mark", ""),
            Arguments.of("lake-reset", ""),
            Arguments.of("lake-sandbox-close", " position 0 open 0"),
            Arguments.of("lake-sandbox-commit", " position 16 open 0"),
            Arguments.of("lake-sandbox-rollback", " position 0"),
            Arguments.of("lake-token-end", " position 0"),
            Arguments.of("lake-token-commit", " position 16"),
            Arguments.of("lake-view-close", " position 0"),
            Arguments.of("lake-close", ""),
            Arguments.of("lake-zeroing-droplet-close", " position 0"),
            Arguments.of("lake-zeroing-reset", ""),
            Arguments.of("arena-rewind", " allocated 0 cleanups 0"),
            Arguments.of("arena-reset", " allocated 0 cleanups 1"),
            Arguments.of("arena-rewind-cleanup", " allocated 0 cleanups 1"),
            Arguments.of("arena-close", " allocated 0 cleanups 1"),
            Arguments.of("arena-defer-close-reset", " allocated 0 cleanups 0 closes 1"),
            Arguments.of("arena-txn-close", " depth 0 allocated 0 cleanups 1"),
            Arguments.of("arena-txn-commit", " depth 0 allocated 16 cleanups 1"),
            Arguments.of("arena-txn-rollback", " depth 0 allocated 0 cleanups 1"),
            Arguments.of("arena-savepoint-close", " depth 1 allocated 0 cleanups 1"),
            Arguments.of("arena-savepoint-commit", " depth 1 allocated 16 cleanups 1"),
            Arguments.of("arena-savepoint-rollback", " depth 1 allocated 0 cleanups 1"),
            Arguments.of("arena-with-transaction", " allocated 24 cleanups 1"),
            Arguments.of("arena-token-end", " allocated 0 cleanups 1"),
            Arguments.of("arena-token-commit", " allocated 16 cleanups 1"),
            Arguments.of("arena-vec-finish", " allocated 8 cleanups 0"),
            Arguments.of("arena-vec-clear", " allocated 64 cleanups 0"),
            Arguments.of("threadlakes-release", " leased 0 pooled 1 closed 0 reused true"),
            Arguments.of("threadlakes-release-strict", " leased 0 pooled 1 closed 0 reused true"),
            Arguments.of("threadlakes-release-linked", " leased 0 pooled 1 closed 0 reused true"),
            Arguments.of("threadlakes-release-unpooled", " leased 0 pooled 0 closed 1 reused false"),
            Arguments.of("threadlakes-with", " marks 0 position 16"),
            Arguments.of("threadlakes-reap", " reaped 1 leased 0 pooled 1 reclaimed 1"),
            Arguments.of("threadlakes-close", ""),
            Arguments.of("threadlakes-closed-release", " leased 0 pooled 0 closed 1"),
            Arguments.of("fixed-handle-release", POOL),
            Arguments.of("buddy-handle-release", POOL),
            Arguments.of("fixed-bytes-release", POOL),
            Arguments.of("buddy-bytes-release", POOL),
            Arguments.of("fixed-bytes-retain", POOL),
            Arguments.of("fixed-retained-release", POOL),
            Arguments.of("fixed-spilled-close", POOL + " spilled true"),
            Arguments.of("fixed-buffer-close", POOL),
            Arguments.of("buddy-buffer-close", POOL),
            Arguments.of("fixed-zero-bytes-release", POOL),
            Arguments.of("fixed-leak-bytes-release", POOL),
            Arguments.of("buddy-leak-bytes-release", " live-slots 0 region-freed true"),
            Arguments.of("fixed-waiter-handle-release", POOL + " served-at-once false served true"),
            Arguments.of("buddy-waiter-handle-release", POOL + " served-at-once false served true"),
            Arguments.of("buddy-waiter-buffer-close", POOL + " served-at-once false served true"),
            Arguments.of("remote-fixed-handle-release", POOL),
            Arguments.of("remote-fixed-buffer-close", POOL),
            Arguments.of("remote-fixed-bytes-release", POOL),
            Arguments.of("remote-buddy-bytes-release", POOL),
            Arguments.of("fixed-close", POOL),
            Arguments.of("buddy-close", POOL),
            Arguments.of("slice-release", SLICE),
            Arguments.of("slice-single-release", SLICE),
            Arguments.of("slice-to-single", SLICE),
            Arguments.of("slice-to-slice", SLICE),
            Arguments.of("slice-ref-release", SLICE),
            Arguments.of("slice-shared-release", SLICE),
            Arguments.of("slice-reader-close", SLICE),
            Arguments.of("slice-reader-bound-close", SLICE),
            Arguments.of("remote-slice-release", SLICE),
            Arguments.of("remote-slice-single-release", SLICE),
            Arguments.of("remote-slice-ref-release", SLICE),
            Arguments.of("remote-slice-shared-release", SLICE),
            Arguments.of("slice-close", SLICE));
    }

    /**
     * A path refused by the full heap must have done nothing (late 0: its effect was never visible after a refusal),
     * a retry must meet no other exception (a double release or a stale refusal), and once everything is closed no
     * region is held, none went to the safety net, and the mode's own counters are as after one clean run.
     *
     * <p>Failed before its fix: the four {@code threadlakes-*release*} modes but {@code -linked} (pooled, strict,
     * unpooled, and after {@code ThreadLakes.close()}), on JDK 17 and 25. The first {@code release()} in a JVM took
     * the lease out of the thread's {@code ThreadLocal} and ran its one-shot {@code Cleaner} entry, whose
     * {@code Lease.giveBack()} then linked {@code AtomicBoolean.compareAndSet}'s {@code VarHandle} call site on the
     * full heap: the refusal left the lake leased to no one (neither pooled nor closed, counted leased, its region
     * held while the thread lives: {@code leased 1 pooled 0 left-regions 1}), and the caller's retry found no lease
     * and returned normally. {@code ThreadLakes} now links that call site when it is built.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("paths")
    void theFirstUseOfEachPathOnAFullHeapThrowsOnlyBeforeItsWorkIsDone(final String mode, final String check)
        throws Exception
    {
        final String out = ChildJvm.runOnSmallHeap(EleventhFirstUseSweepProbe.class, mode);
        final Pattern expected = Pattern.compile("probe: " + Pattern.quote(mode) +
            " late 0 refused \\d+ other none left-regions 0 leaks 0" + Pattern.quote(check) + "\\R");
        assertTrue(expected.matcher(out).find(), out);
    }
}
