package dev.lake.examples;

import dev.lake.memory.NativeMemory;
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

    static Stream<Arguments> examples()
    {
        return Stream.of(
            Arguments.of("Tour", (Main)Tour::main, new String[0], "after close: 0 native bytes"),
            Arguments.of("thread_lakes", (Main)ThreadLakesExample::main, new String[0], "closed: native bytes held: 0"),
            Arguments.of("flagship", (Main)dev.lake.examples.flagship.MarketDataPipeline::main,
                new String[]{"--messages", "20000", "--rate", "100000"}, "book checksum"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("examples")
    void runs(final String name, final Main main, final String[] args, final String expected) throws Exception
    {
        final long baseline = NativeMemory.reservedBytes();
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
        assertTrue(output.contains(expected), name + " printed:\n" + output);
        assertEquals(baseline, NativeMemory.reservedBytes(), name + " left native memory behind");
    }
}
