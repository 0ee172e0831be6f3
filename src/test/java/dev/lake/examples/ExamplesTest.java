package dev.lake.examples;

import dev.lake.testing.NativeAccounting;
import org.junit.jupiter.api.parallel.Execution;
import org.junit.jupiter.api.parallel.ExecutionMode;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Runs every example in {@code examples/} so none rots: each must finish, print what it promises, and leave
 * Lake's native byte count where it found it.
 */
@Execution(ExecutionMode.SAME_THREAD)
class ExamplesTest
{
    interface Main
    {
        void run(String[] args) throws Exception;
    }

    /**
     * One row per example: its README name, its main, its arguments, and output fragments that prove it did its
     * job (each self-checking example prints its check count only when every check passed).
     */
    static Stream<Arguments> examples()
    {
        return Stream.of(
            row("Tour", Tour::main, new String[0], "after close: 0 native bytes"),
            row("thread_lakes", ThreadLakesExample::main, new String[0], "closed: native bytes held: 0"),
            row("flagship", dev.lake.examples.flagship.MarketDataPipeline::main,
                new String[]{"--messages", "10000", "--rate", "100000", "--forks", "2"},
                "Each metric is the median of 2 forks per variant", "book checksum", "each run in its own JVM"),
            row("flagship in one JVM", dev.lake.examples.flagship.MarketDataPipeline::main,
                new String[]{"--messages", "20000", "--rate", "100000", "--forks", "0"},
                "book checksum", "variants one after another in one JVM"),
            row("lake_tour", LakeTour::main, new String[0],
                "caught StaleHandleException: droplet at",
                "decoded in place: orderId=42 price=10125 quantity=300 side=BUY clientTag=desk-7",
                "lake_tour: 22 checks passed, native bytes held after close: 0"),
            row("arena_transactions", ArenaTransactions::main, new String[0],
                "caught BudgetExceededException: transaction budget exceeded: limit 1024 bytes",
                "rewind ran: [close the capture file, flush the journal, release the order-book lock]",
                "ok: token transactions allocate no Java object",
                "arena_transactions: 21 checks passed, native bytes held after close: 0"),
            row("shared_slices", SharedSlices::main, new String[0],
                "ok: the last release freed the two full chunks",
                "initializer failed: price feed ended at element 300",
                "shared_slices: 11 checks passed, native bytes held after close: 0"),
            row("fixed_buffer", FixedBuffer::main, new String[0],
                "10,000 messages sent and released",
                "ok: the consumer read every message in order and intact (sum of squares 333283335000)",
                "fixed_buffer: 10 checks passed, native bytes held after close: 0"),
            row("spill_buffer", SpillBuffer::main, new String[0],
                "spilled while writing long #8 (byte 64)",
                "decoded from heap Bytes: orderId=7001 side=SELL",
                "spill_buffer: 9 checks passed, native bytes held after close: 0"),
            row("buddy_buffer", BuddyBuffer::main, new String[0],
                "asked  70,000 B -> block of 131,072 B", "coalesced back to one block: true",
                "closed: native bytes held: 0"),
            row("async_alloc", AsyncAlloc::main, new String[0],
                "allocateAsync() while full: done=false, waiters=1", "after a release: future done=true",
                "allocate(50 ms) while full:", "closed: native bytes held: 0"),
            row("numa_deployment", NumaDeployment::main, new String[0],
                "allocations: 40,000 node-local", "closed: native bytes held: 0"));
    }

    private static Arguments row(final String name, final Main main, final String[] args, final String... expected)
    {
        return Arguments.of(name, main, args, expected);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("examples")
    void runs(final String name, final Main main, final String[] args, final String[] expected) throws Exception
    {
        final NativeAccounting.Baseline baseline = NativeAccounting.Baseline.take();
        final PrintStream original = System.out;
        final ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try
        {
            main.run(args);
        }
        finally
        {
            System.setOut(original);
        }
        final String output = captured.toString(StandardCharsets.UTF_8);
        original.print(output);
        for (final String fragment : expected)
        {
            assertTrue(output.contains(fragment), name + " did not print \"" + fragment + "\"; it printed:\n" + output);
        }
        baseline.assertBack(name + " left native memory behind");
    }
}
