package dev.lake.examples.flagship;

import com.sun.management.ThreadMXBean;
import dev.lake.examples.sbe.MdIncrementDecoder;
import dev.lake.examples.sbe.MdIncrementEncoder;
import dev.lake.examples.sbe.MessageHeaderDecoder;
import dev.lake.examples.sbe.MessageHeaderEncoder;
import dev.lake.examples.sbe.Side;
import dev.lake.examples.sbe.UpdateAction;
import org.HdrHistogram.Histogram;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.UnsafeBuffer;
import org.jctools.queues.atomic.SpscAtomicArrayQueue;

import java.io.File;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;

/**
 * The flagship: a zero-GC market-data pipeline on real SBE codecs.
 *
 * <p>A feed thread encodes {@code MdIncrement} messages straight into transport memory, publishes them and
 * hands them over a JCTools SPSC queue to an engine thread; the engine decodes in place, does per-message
 * scratch work, applies the entries to an order book, fans every fourth message out to two consumers
 * (shared, not copied) and releases. The same code runs on Lake, on Netty's pooled buffers and on a
 * {@code byte[]} per message, and the printout compares them.
 *
 * <p>Each variant runs in its own JVM by default, as JMH forks its benchmarks: run one after another in one JVM,
 * the first variant shares the two cores with the JIT compiling the pipeline's common code while the last finds it
 * compiled, which biased the comparison against whichever ran first. The forks of the variants are interleaved
 * (lake, netty, heap, lake, ...) so that a machine that drifts during the run affects each alike, and the table
 * gives each metric's median over a variant's forks, every fork's row printed above it.
 *
 * <p>Usage: {@code MarketDataPipeline [--baseline lake|netty|heap|all] [--messages N] [--rate MSGS_PER_SEC]
 * [--forks F]}; {@code --forks 0} runs the variants one after another in this JVM.
 */
public final class MarketDataPipeline
{
    static final int INSTRUMENTS = 16;
    static final int LEVELS = 10;
    static final int ENTRIES = 4;
    static final int FAN_OUT_EVERY = 4;
    static final int MESSAGE_CAPACITY = 256;
    private static final int QUEUE_CAPACITY = 1024;
    private static final int DEFAULT_FORKS = 5;
    private static final int MAX_FORKS = 100;

    /** Set on a forked run: it prints each result as one {@link #RESULT} line for the parent to read. */
    private static final String CHILD_PROPERTY = "pipeline.child";
    private static final String RESULT = "RESULT\t";
    private static final int CHILD_SECONDS = 600;

    private MarketDataPipeline()
    {
    }

    /**
     * @param args see the class comment.
     * @throws Exception if a stage fails, a forked run fails or runs past its time, or the variants' book
     *                   checksums differ.
     */
    public static void main(final String[] args) throws Exception
    {
        String baseline = "all";
        long messages = 1_000_000;
        long rate = 250_000;
        long forks = DEFAULT_FORKS;
        for (int i = 0; i < args.length; i++)
        {
            if (i + 1 >= args.length)
            {
                throw new IllegalArgumentException(args[i] + " needs a value; " + USAGE);
            }
            switch (args[i])
            {
                case "--baseline" -> baseline = args[++i];
                case "--messages" -> messages = atLeast(args[i], args[++i], 1);
                case "--rate" -> rate = atLeast(args[i], args[++i], 1);
                case "--forks" -> forks = atLeast(args[i], args[++i], 0);
                default -> throw new IllegalArgumentException(USAGE);
            }
        }
        final String[] variants = baseline.equals("all") ? new String[]{"lake", "netty", "heap"} : new String[]{baseline};
        for (final String variant : variants)
        {
            if (!List.of("lake", "netty", "heap").contains(variant)) // before any run
            {
                throw new IllegalArgumentException("unknown variant: " + variant + " (lake, netty, heap); " + USAGE);
            }
        }

        if (forks > MAX_FORKS)
        {
            throw new IllegalArgumentException("--forks " + forks + ": at most " + MAX_FORKS + "; " + USAGE);
        }
        final List<Result> results = forks == 0 ? runHere(variants, messages, rate) :
            runForked(variants, messages, rate, (int)forks);
        if (Boolean.getBoolean(CHILD_PROPERTY))
        {
            for (final Result r : results)
            {
                System.out.println(RESULT + r.name + "\t" + r.messagesPerSecond + "\t" + r.p50Micros + "\t" +
                    r.p99Micros + "\t" + r.p999Micros + "\t" + r.bytesPerMessage + "\t" + r.gcs + "\t" + r.checksum);
            }
            return;
        }
        final List<Result> table = forks <= 1 ? results : medians(variants, results);
        for (final Result r : table)
        {
            if (r.checksum != table.get(0).checksum)
            {
                throw new IllegalStateException("the variants built different books: " + table);
            }
        }
        System.out.println();
        if (forks > 1)
        {
            System.out.printf(Locale.ROOT, "Each metric is the median of %d forks per variant (rows above):%n", forks);
        }
        printHeader();
        for (final Result r : table)
        {
            printRow(r);
        }
        System.out.printf(Locale.ROOT, "(max heap %,d MB; B/msg and GCs over the measured phases; latency at %,d msgs/s; %s)%n",
            Runtime.getRuntime().maxMemory() >> 20, rate,
            forks == 0 ? "variants one after another in one JVM" : "each run in its own JVM");
    }

    private static final String USAGE =
        "usage: MarketDataPipeline [--baseline lake|netty|heap|all] [--messages N] [--rate MSGS_PER_SEC] [--forks F] "
            + "(N and MSGS_PER_SEC whole numbers of at least 1, F from 0 to 100)";

    private static long atLeast(final String option, final String value, final long least)
    {
        final long parsed;
        try
        {
            parsed = Long.parseLong(value);
        }
        catch (final NumberFormatException ex)
        {
            throw new IllegalArgumentException(option + " " + value + ": not a whole number; " + USAGE, ex);
        }
        if (parsed < least)
        {
            throw new IllegalArgumentException(option + " " + value + ": must be at least " + least + "; " + USAGE);
        }
        return parsed;
    }

    private static List<Result> runHere(final String[] variants, final long messages, final long rate)
        throws Exception
    {
        final List<Result> results = new ArrayList<>();
        for (final String variant : variants)
        {
            try (Transport<?> transport = transport(variant))
            {
                results.add(new MarketDataPipeline.Run<>(transport, messages, rate).execute());
            }
        }
        return results;
    }

    /** Runs every variant {@code forks} times, each run in a fresh JVM with this JVM's flags, round by round. */
    private static List<Result> runForked(final String[] variants, final long messages, final long rate, final int forks)
        throws Exception
    {
        final List<String> jvm = new ArrayList<>();
        jvm.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        for (final String flag : ManagementFactory.getRuntimeMXBean().getInputArguments())
        {
            if (!flag.startsWith("-agentlib:jdwp")) // a debugger's port can be taken once
            {
                jvm.add(flag);
            }
        }
        jvm.add("-D" + CHILD_PROPERTY + "=true");
        jvm.add("-cp");
        jvm.add(System.getProperty("java.class.path"));
        jvm.add(MarketDataPipeline.class.getName());

        final List<Result> results = new ArrayList<>();
        printHeader();
        for (int fork = 1; fork <= forks; fork++)
        {
            for (final String variant : variants)
            {
                final List<String> command = new ArrayList<>(jvm);
                command.addAll(List.of("--baseline", variant, "--messages", Long.toString(messages),
                    "--rate", Long.toString(rate), "--forks", "0"));
                final Result result = runChild(command, variant + " fork " + fork);
                printRow(result);
                results.add(result);
            }
        }
        return results;
    }

    private static Result runChild(final List<String> command, final String what) throws Exception
    {
        // output to a file, not a pipe: a child that hangs is killed after its time instead of blocking a read
        final File log = File.createTempFile("lake-pipeline", ".out");
        try
        {
            final Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log).start();
            final boolean ended = process.waitFor(CHILD_SECONDS, TimeUnit.SECONDS);
            if (!ended)
            {
                process.destroyForcibly().waitFor();
            }
            final List<String> lines = Files.readAllLines(log.toPath(), StandardCharsets.UTF_8);
            for (final String line : lines)
            {
                if (ended && process.exitValue() == 0 && line.startsWith(RESULT))
                {
                    final String[] f = line.substring(RESULT.length()).split("\t");
                    return new Result(f[0], Double.parseDouble(f[1]), Double.parseDouble(f[2]), Double.parseDouble(f[3]),
                        Double.parseDouble(f[4]), Double.parseDouble(f[5]), Long.parseLong(f[6]), Long.parseLong(f[7]));
                }
            }
            throw new IllegalStateException("the " + what + " run " + (ended ? "exited with status " +
                process.exitValue() : "ran past " + CHILD_SECONDS + " s and was killed") + ", its output:\n" +
                String.join("\n", lines));
        }
        finally
        {
            Files.deleteIfExists(log.toPath());
        }
    }

    /** One row per variant, in the given order: each metric's median over that variant's runs. */
    static List<Result> medians(final String[] variants, final List<Result> results)
    {
        final List<Result> medians = new ArrayList<>();
        for (int v = 0; v < variants.length; v++)
        {
            final List<Result> runs = new ArrayList<>();
            for (int i = v; i < results.size(); i += variants.length)
            {
                runs.add(results.get(i));
            }
            final Result first = runs.get(0);
            for (final Result r : runs)
            {
                if (r.checksum != first.checksum)
                {
                    throw new IllegalStateException("two runs of " + first.name + " built different books: " + runs);
                }
            }
            medians.add(new Result(first.name, median(runs, Result::messagesPerSecond), median(runs, Result::p50Micros),
                median(runs, Result::p99Micros), median(runs, Result::p999Micros), median(runs, Result::bytesPerMessage),
                Math.round(median(runs, r -> r.gcs)), first.checksum));
        }
        return medians;
    }

    private static double median(final List<Result> runs, final ToDoubleFunction<Result> metric)
    {
        final double[] values = runs.stream().mapToDouble(metric).sorted().toArray();
        final int middle = values.length / 2;
        return values.length % 2 == 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
    }

    private static void printHeader()
    {
        System.out.printf(Locale.ROOT, "%-22s %12s %9s %9s %9s %10s %6s %14s%n",
            "variant", "msgs/s", "p50 us", "p99 us", "p99.9 us", "B/msg", "GCs", "book checksum");
    }

    private static void printRow(final Result r)
    {
        System.out.printf(Locale.ROOT, "%-22s %,12.0f %9.2f %9.2f %9.2f %10.2f %6d %14d%n",
            r.name, r.messagesPerSecond, r.p50Micros, r.p99Micros, r.p999Micros, r.bytesPerMessage, r.gcs, r.checksum);
    }

    static Transport<?> transport(final String variant)
    {
        return switch (variant)
        {
            case "lake" -> new LakeTransport();
            case "netty" -> new NettyTransport();
            case "heap" -> new HeapTransport();
            default -> throw new IllegalArgumentException("unknown variant: " + variant + " (lake, netty, heap)");
        };
    }

    /** What one variant measured. */
    record Result(String name, double messagesPerSecond, double p50Micros, double p99Micros, double p999Micros,
        double bytesPerMessage, long gcs, long checksum)
    {
    }

    /** One variant's run: warm-up, a throughput phase and a paced latency phase. */
    static final class Run<M>
    {
        private final Transport<M> transport;
        private final long messages;
        private final long rate;
        private final SpscAtomicArrayQueue<M> toEngine = new SpscAtomicArrayQueue<>(QUEUE_CAPACITY);
        private final SpscAtomicArrayQueue<M> toConsumerA = new SpscAtomicArrayQueue<>(QUEUE_CAPACITY);
        private final SpscAtomicArrayQueue<M> toConsumerB = new SpscAtomicArrayQueue<>(QUEUE_CAPACITY);
        private final Histogram latency = new Histogram(10_000_000_000L, 3);
        private final OrderBook book = new OrderBook();

        private volatile boolean running = true;
        private volatile long feedTarget;
        private volatile long feedPeriodNanos;
        private volatile long fed;
        private volatile long engineDone;
        private volatile long consumedA;
        private volatile long consumedB;
        private volatile long recordFromSequence = Long.MAX_VALUE;
        private volatile Throwable failure;
        private final java.util.concurrent.atomic.AtomicLong consumerChecksum = new java.util.concurrent.atomic.AtomicLong();

        Run(final Transport<M> transport, final long messages, final long rate)
        {
            this.transport = transport;
            this.messages = messages;
            this.rate = rate;
        }

        Result execute() throws InterruptedException
        {
            final Thread feed = new Thread(this::feed, "feed");
            final Thread engine = new Thread(this::engine, "engine");
            final Thread consumerA = new Thread(() -> consume(toConsumerA, true), "consumer-a");
            final Thread consumerB = new Thread(() -> consume(toConsumerB, false), "consumer-b");
            final Thread[] threads = {feed, engine, consumerA, consumerB};
            for (final Thread t : threads)
            {
                t.setDaemon(true);
                t.start();
            }
            try
            {
                System.out.printf("[%s] warm-up: %,d messages%n", transport.name(), messages / 5);
                phase(messages / 5, 0);

                final long[] ids = {feed.getId(), engine.getId(), consumerA.getId(), consumerB.getId()};
                System.gc(); // settle what set-up and warm-up left behind: only the measured phases count
                final long gcBefore = gcCount();
                final long bytesBefore = allocatedBytes(ids);

                System.out.printf("[%s] throughput: %,d messages, unthrottled%n", transport.name(), messages);
                final long start = System.nanoTime();
                phase(messages, 0);
                final double seconds = (System.nanoTime() - start) / 1e9;

                final long paced = Math.max(1, messages / 2);
                System.out.printf("[%s] latency: %,d messages at %,d msgs/s%n", transport.name(), paced, rate);
                recordFromSequence = fed;
                phase(paced, rate);

                final long bytes = allocatedBytes(ids) - bytesBefore;
                if (Boolean.getBoolean("pipeline.debugAllocations"))
                {
                    final ThreadMXBean mx = (ThreadMXBean)ManagementFactory.getThreadMXBean();
                    System.out.println("allocated per thread: " + java.util.Arrays.toString(mx.getThreadAllocatedBytes(ids)));
                }
                final long gcs = gcCount() - gcBefore;
                running = false;
                for (final Thread t : threads)
                {
                    t.join();
                }
                if (failure != null)
                {
                    throw new IllegalStateException("pipeline stage failed", failure);
                }
                if (transport.outstanding() != 0)
                {
                    throw new IllegalStateException(transport.outstanding() + " messages were never released");
                }
                return new Result(transport.name(), messages / seconds,
                    latency.getValueAtPercentile(50) / 1e3, latency.getValueAtPercentile(99) / 1e3,
                    latency.getValueAtPercentile(99.9) / 1e3, (double)bytes / (messages + paced), gcs, book.checksum());
            }
            finally
            {
                running = false;
            }
        }

        private void phase(final long count, final long messagesPerSecond)
        {
            final long target = fed + count;
            final long expectedFanOut = expectedFanOut(target);
            feedPeriodNanos = messagesPerSecond <= 0 ? 0 : 1_000_000_000L / messagesPerSecond;
            feedTarget = target;
            final IdleStrategy idle = new BackoffIdleStrategy();
            long lastPrint = System.nanoTime();
            while (engineDone < target || consumedA < expectedFanOut || consumedB < expectedFanOut)
            {
                if (failure != null)
                {
                    throw new IllegalStateException("pipeline stage failed", failure);
                }
                if (System.nanoTime() - lastPrint > 1_000_000_000L)
                {
                    lastPrint = System.nanoTime();
                    System.out.printf("[%s]   %,d / %,d messages%n", transport.name(), engineDone, target);
                }
                idle.idle(0);
            }
        }

        private static long expectedFanOut(final long messages)
        {
            return (messages + FAN_OUT_EVERY - 1) / FAN_OUT_EVERY;
        }

        private void feed()
        {
            try
            {
                final UnsafeBuffer view = new UnsafeBuffer(0, 0);
                final MessageHeaderEncoder header = new MessageHeaderEncoder();
                final MdIncrementEncoder encoder = new MdIncrementEncoder();
                final IdleStrategy idle = new BackoffIdleStrategy();
                long sequence = 0;
                long phaseStart = 0;
                long phaseFirst = 0;
                long lastTarget = 0;
                while (running)
                {
                    final long target = feedTarget;
                    if (sequence >= target)
                    {
                        idle.idle(0);
                        continue;
                    }
                    if (target != lastTarget)
                    {
                        lastTarget = target;
                        phaseStart = System.nanoTime();
                        phaseFirst = sequence;
                    }
                    final long period = feedPeriodNanos;
                    if (period > 0)
                    {
                        final long due = phaseStart + (sequence - phaseFirst) * period;
                        while (System.nanoTime() < due)
                        {
                            Thread.onSpinWait();
                        }
                    }
                    M message;
                    while ((message = transport.claim(MESSAGE_CAPACITY)) == null)
                    {
                        idle.idle(0);
                    }
                    final MutableDirectBuffer buffer = transport.writable(message, view);
                    final int length = encode(buffer, header, encoder, sequence);
                    final M published = transport.publish(message, length);
                    while (!toEngine.offer(published))
                    {
                        idle.idle(0);
                    }
                    sequence++;
                    fed = sequence;
                }
            }
            catch (final Throwable t)
            {
                failure = t;
            }
        }

        static int encode(
            final MutableDirectBuffer buffer, final MessageHeaderEncoder header, final MdIncrementEncoder encoder,
            final long sequence)
        {
            encoder.wrapAndApplyHeader(buffer, 0, header)
                .sequence(sequence)
                .sendingTimeNanos(System.nanoTime())
                .instrumentId((int)(sequence % INSTRUMENTS));
            final MdIncrementEncoder.EntriesEncoder entries = encoder.entriesCount(ENTRIES);
            for (int i = 0; i < ENTRIES; i++)
            {
                final long mix = sequence * 31 + i;
                entries.next()
                    .price(10_000 + (mix % 97))
                    .quantity(1 + (mix % 13))
                    .level((short)(mix % LEVELS))
                    .side((mix & 1) == 0 ? Side.BUY : Side.SELL)
                    .action((mix % 5) == 0 ? UpdateAction.DELETE : UpdateAction.CHANGE);
            }
            return MessageHeaderEncoder.ENCODED_LENGTH + encoder.encodedLength();
        }

        private void engine()
        {
            try
            {
                final UnsafeBuffer view = new UnsafeBuffer(0, 0);
                final MessageHeaderDecoder header = new MessageHeaderDecoder();
                final MdIncrementDecoder decoder = new MdIncrementDecoder();
                // the engine is on the latency path: spin, then yield, then park for at most 20 us
                final IdleStrategy idle = new BackoffIdleStrategy(100, 100, 1_000, 20_000);
                final EngineWork work = new EngineWork(book);
                long done = 0;
                try
                {
                    while (running)
                    {
                        final M message = toEngine.poll();
                        if (message == null)
                        {
                            idle.idle(0);
                            continue;
                        }
                        final DirectBuffer buffer = transport.readable(message, view);
                        decoder.wrapAndApplyHeader(buffer, 0, header);
                        final long sequence = decoder.sequence();
                        final long sent = decoder.sendingTimeNanos();
                        work.apply(decoder);
                        if (sequence % FAN_OUT_EVERY == 0)
                        {
                            final M forA = transport.share(message);
                            final M forB = transport.share(message);
                            while (!toConsumerA.offer(forA))
                            {
                                idle.idle(0);
                            }
                            while (!toConsumerB.offer(forB))
                            {
                                idle.idle(0);
                            }
                        }
                        transport.release(message);
                        if (sequence >= recordFromSequence)
                        {
                            latency.recordValue(Math.max(0, System.nanoTime() - sent));
                        }
                        engineDone = ++done;
                    }
                }
                finally
                {
                    work.close();
                }
            }
            catch (final Throwable t)
            {
                failure = t;
            }
        }

        private void consume(final SpscAtomicArrayQueue<M> queue, final boolean first)
        {
            try
            {
                final UnsafeBuffer view = new UnsafeBuffer(0, 0);
                final MessageHeaderDecoder header = new MessageHeaderDecoder();
                final MdIncrementDecoder decoder = new MdIncrementDecoder();
                final IdleStrategy idle = new BackoffIdleStrategy();
                long done = 0;
                long checksum = 0;
                while (running)
                {
                    final M message = queue.poll();
                    if (message == null)
                    {
                        idle.idle(0);
                        continue;
                    }
                    decoder.wrapAndApplyHeader(transport.readable(message, view), 0, header);
                    checksum += decoder.instrumentId() + decoder.sequence();
                    transport.release(message);
                    done++;
                    if (first)
                    {
                        consumedA = done;
                    }
                    else
                    {
                        consumedB = done;
                    }
                }
                consumerChecksum.addAndGet(checksum);
            }
            catch (final Throwable t)
            {
                failure = t;
            }
        }
    }

    static long gcCount()
    {
        long total = 0;
        for (final GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans())
        {
            total += Math.max(0, gc.getCollectionCount());
        }
        return total;
    }

    static long allocatedBytes(final long[] threadIds)
    {
        final ThreadMXBean threads = (ThreadMXBean)ManagementFactory.getThreadMXBean();
        long total = 0;
        for (final long bytes : threads.getThreadAllocatedBytes(threadIds))
        {
            total += Math.max(0, bytes);
        }
        return total;
    }
}
