using System.Globalization;
using IlgpuDiffusion.Cli;
using Xunit;

namespace IlgpuDiffusion.Tests.Cli;

/// <summary>The <c>bench</c> command at tiny sizes: the Markdown table and its rows, and a bad step list.</summary>
public sealed class BenchCommandTests
{
    [Fact]
    public async Task Prints_the_autoregressive_row_and_each_step_count_cached_and_uncached()
    {
        var result = await CliRunner.Run("bench", "--batch", "1", "--length", "8", "--steps", "2", "L", "--device", "cpu");

        Assert.True(result.ExitCode == 0, result.ToString());
        string[] rows = result.OutLines.Where(line => line.StartsWith("| ", StringComparison.Ordinal)).ToArray();
        Assert.Equal(1 + 1 + 2 * 2, rows.Length); // header, AR, N 2 and N 8 cached and uncached (the rule starts with "|-")
        Assert.StartsWith("| autoregressive (KV cache) | — | KV |", rows[1]);
        Assert.StartsWith("| diffusion | 2 | cached |", rows[2]);
        Assert.StartsWith("| diffusion | 8 | uncached |", rows[5]);
        Assert.Contains("B = 1, L = 8", result.Out);
    }

    /// <summary>--profile adds a table per generator, from one more run than the timed ones: the ops of its passes.</summary>
    [Fact]
    public async Task With_profile_it_prints_where_each_generators_run_goes()
    {
        var result = await CliRunner.Run("bench", "--batch", "1", "--length", "8", "--steps", "2", "--device", "cpu", "--profile");

        Assert.True(result.ExitCode == 0, result.ToString());
        string[] headings = result.OutLines.Where(line => line.StartsWith("### ", StringComparison.Ordinal)).ToArray();
        Assert.Equal(["### autoregressive (KV cache)", "### diffusion, 2 steps, cached", "### diffusion, 2 steps, uncached"],
            headings);
        const string table = "Where a run's time goes (1 run profiled on CPU";
        Assert.Equal(3, result.OutLines.Count(line => line.StartsWith(table, StringComparison.Ordinal)));
        Assert.Contains("| AttentionWithCacheForward | Attention | 32 |", result.Out); // 8 passes × 4 layers
        Assert.Equal(3, result.OutLines.Count(line => line.StartsWith("| **run** |", StringComparison.Ordinal)));
    }

    /// <summary>--preset sizes the latency comparison's models too (Tiny by default): the small DiT has 169.6 M parameters.</summary>
    [Fact]
    public async Task The_latency_comparison_takes_a_preset()
    {
        var result = await CliRunner.Run("bench", "--preset", "small", "--batch", "1", "--length", "4", "--steps", "2", "--device", "cpu");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("| diffusion | 2 | cached |", result.Out);
        Assert.Contains("diffusion 169.", result.Out);
    }

    [Fact]
    public async Task Times_the_gemms_of_a_training_step_with_their_shapes()
    {
        var result = await CliRunner.Run("bench", "--gemm", "--preset", "tiny", "--batch", "1", "--length", "16", "--device", "cpu");

        Assert.True(result.ExitCode == 0, result.ToString());
        string[] rows = result.OutLines.Where(line => line.StartsWith("| ", StringComparison.Ordinal)).ToArray();
        Assert.Equal(1 + 5 * 3 + 1, rows.Length); // header, forward and both gradients of five Linears, the total
        Assert.StartsWith("| qkv forward | ABt | 16 × 768 × 256 |", rows[1]);
        Assert.StartsWith("| head weight gradient | AtB | 50304 × 256 × 16 |", rows[15]); // the padded head (DitConfig.PaddedVocab)
        Assert.StartsWith("| **all** |", rows[16]);
    }

    [Fact]
    public async Task Times_the_attention_of_one_layer_forward_and_backward()
    {
        var result = await CliRunner.Run("bench", "--attention", "--preset", "tiny", "--batch", "2", "--length", "16", "--device", "cpu");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("B 2 × H 4 × L 16 × d 64", result.Out);
        string[] rows = result.OutLines.Where(line => line.StartsWith("| ", StringComparison.Ordinal)).ToArray();
        Assert.Equal(4, rows.Length);
        Assert.StartsWith("| forward |", rows[1]);
        Assert.StartsWith("| backward |", rows[2]);
        Assert.StartsWith("| **forward + backward** |", rows[3]);
        Assert.All(rows.Skip(1), row => Assert.True(double.Parse(row.Split('|')[2], CultureInfo.InvariantCulture) > 0, row));
    }

    [Fact]
    public async Task Refuses_a_step_list_that_is_not_counts_or_L()
    {
        var result = await CliRunner.Run("bench", "--steps", "8,x", "--device", "cpu");

        Assert.Equal(CliApplication.UsageError, result.ExitCode);
        Assert.Contains("--steps takes positive step counts or L", result.Error);
    }

    [Fact]
    public async Task Step_lists_take_spaces_or_commas_in_bench_and_eval_and_errors_name_no_dotnet_type()
    {
        var bench = await CliRunner.Run("bench", "--batch", "1", "--length", "8", "--steps", "2,4", "8", "--device", "cpu");
        Assert.True(bench.ExitCode == 0, bench.ToString());
        Assert.Contains("| diffusion | 4 | cached |", bench.Out);
        Assert.Contains("| diffusion | 8 | cached |", bench.Out);

        var eval = await CliRunner.Run("eval", "m.safetensors", "--ar", "g.safetensors", "--steps", "8,0", "--device", "cpu");
        Assert.Equal(CliApplication.UsageError, eval.ExitCode);
        Assert.Contains("--steps takes positive step counts, separated by spaces or commas; got '0'.", eval.Error);

        var seed = await CliRunner.Run("sample", "m.safetensors", "--seed", "abc");
        Assert.Equal(CliApplication.UsageError, seed.ExitCode);
        Assert.Contains("'abc' for option '--seed' as an integer", seed.Error);
        Assert.DoesNotContain("System.", seed.Error);
    }
}
