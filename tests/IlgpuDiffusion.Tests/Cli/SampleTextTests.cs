using IlgpuDiffusion.Cli.Output;
using IlgpuDiffusion.Data;
using IlgpuDiffusion.Sampling;
using Xunit;

namespace IlgpuDiffusion.Tests.Cli;

/// <summary>Sample ids to text, and prompt text to fixed positions.</summary>
public sealed class SampleTextTests
{
    private static readonly Gpt2Tokenizer Tokenizer = Gpt2Tokenizer.Shared;

    [Fact]
    public void A_finished_sample_drops_its_bos_eos_frame_and_keeps_inner_document_ends()
    {
        int[] ids = [Gpt2Tokenizer.Bos, .. Tokenizer.Encode("Hello"), Gpt2Tokenizer.Eos, .. Tokenizer.Encode(" world"), Gpt2Tokenizer.Eos];
        Assert.Equal("Hello<|endoftext|> world", SampleText.Decode(ids, Tokenizer));
    }

    [Fact]
    public void Text_for_reading_separates_documents_by_an_empty_line()
    {
        int[] ids = [Gpt2Tokenizer.Bos, .. Tokenizer.Encode("Hello"), Gpt2Tokenizer.Eos, .. Tokenizer.Encode(" world"), Gpt2Tokenizer.Eos,
            Gpt2Tokenizer.Eos, .. Tokenizer.Encode(" again"), Gpt2Tokenizer.Eos];
        Assert.Equal("Hello\n\nworld\n\n\n\nagain", SampleText.DecodeDocuments(ids, Tokenizer));
    }

    [Fact]
    public void A_partial_sample_shows_one_glyph_per_masked_token()
    {
        int[] ids = [.. Tokenizer.Encode("The nation"), Gpt2Tokenizer.Mask, Gpt2Tokenizer.Mask, .. Tokenizer.Encode(" is free"),
            Gpt2Tokenizer.Mask];
        Assert.Equal("The nation__ is free_", SampleText.DecodePartial(ids, Tokenizer, Gpt2Tokenizer.Mask, '_'));
    }

    [Fact]
    public void A_prefix_follows_bos_and_a_suffix_precedes_the_final_eos()
    {
        int[] prefix = Tokenizer.Encode("We the people"), suffix = Tokenizer.Encode(" of America");
        var fixedIds = new int[16];
        SamplingPrompt.FromText(Tokenizer, "We the people", " of America", 16)!
            .Write(fixedIds, batch: 1, length: 16, maskId: Gpt2Tokenizer.Mask);
        int[] expected = Enumerable.Repeat(-1, 16).ToArray();
        expected[0] = Gpt2Tokenizer.Bos;
        prefix.CopyTo(expected, 1);
        suffix.CopyTo(expected, 15 - suffix.Length);
        expected[15] = Gpt2Tokenizer.Eos;
        Assert.Equal(expected, fixedIds);
    }

    [Fact]
    public void No_prompt_text_means_no_prompt_and_a_prompt_filling_the_sequence_is_refused()
    {
        Assert.Null(SamplingPrompt.FromText(Tokenizer, null, "", 16));
        Assert.Throws<ArgumentException>(() => SamplingPrompt.FromText(Tokenizer, "one two three four", null, 5));
    }
}
