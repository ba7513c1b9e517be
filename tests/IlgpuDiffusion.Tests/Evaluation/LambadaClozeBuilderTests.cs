using IlgpuDiffusion.Evaluation;
using Xunit;

namespace IlgpuDiffusion.Tests.Evaluation;

public sealed class LambadaClozeBuilderTests
{
    private const string Story = "The cat sat on the mat. Then the dog came in.\nThe dog looked at the cat.";
    private static readonly LambadaClozeOptions Small = new() { MinContextWords = 5, MaxContextWords = 20 };

    [Fact]
    public void The_target_must_occur_in_an_earlier_sentence()
    {
        // "mat" (first sentence) has no earlier sentence; "in" is too short; "cat" occurs in the first sentence.
        IReadOnlyList<LambadaPassage> passages = LambadaClozeBuilder.Build([Story], Small);
        LambadaPassage passage = Assert.Single(passages);
        Assert.Equal("The cat sat on the mat. Then the dog came in. The dog looked at the", passage.Context);
        Assert.Equal(" cat", passage.Target);
        Assert.Equal(passage, LambadaPassage.Split(passage.Text));
    }

    [Fact]
    public void Without_the_occurrence_rule_passages_follow_each_other_without_overlap()
    {
        IReadOnlyList<LambadaPassage> passages = LambadaClozeBuilder.Build([Story], Small with { RequireWordInEarlierSentences = false });
        Assert.Equal(2, passages.Count);
        Assert.Equal(new LambadaPassage("The cat sat on the", " mat"), passages[0]);
        Assert.Equal(new LambadaPassage("Then the dog came in. The dog looked at the", " cat"), passages[1]);
    }

    [Fact]
    public void Context_length_limits_drop_passages()
    {
        // With at most 8 context words the last passage cannot reach back to the sentence that names the cat.
        Assert.Empty(LambadaClozeBuilder.Build([Story], Small with { MaxContextWords = 8 }));
        Assert.Empty(LambadaClozeBuilder.Build([Story], Small with { MinContextWords = 17, MaxContextWords = 30 }));
    }

    [Fact]
    public void Titles_do_not_end_sentences_and_quotes_and_punctuation_are_stripped_from_the_target()
    {
        const string text = "Mr. Smith knocked on the door. He shouted, \"Open the door!\" Nobody came. The end was near, and it was 1999.";
        IReadOnlyList<LambadaPassage> passages = LambadaClozeBuilder.Build([text], new() { MinContextWords = 3, MaxContextWords = 30 });
        LambadaPassage passage = Assert.Single(passages); // "came" and "1999" do not qualify
        Assert.Equal("Mr. Smith knocked on the door. He shouted, \"Open the", passage.Context);
        Assert.Equal(" door", passage.Target);
    }

    [Fact]
    public void An_unfinished_last_sentence_gives_no_passage_and_max_passages_stops_early()
    {
        Assert.Empty(LambadaClozeBuilder.Build(["The cat sat on the mat. The cat"],
            Small with { RequireWordInEarlierSentences = false, MinContextWords = 6 }));
        string[] documents = [Story, Story, Story];
        Assert.Equal(2, LambadaClozeBuilder.Build(documents, Small with { MaxPassages = 2 }).Count);
    }

    [Fact]
    public void Invalid_options_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => LambadaClozeBuilder.Build([Story], Small with { MaxContextWords = 4 }));
        Assert.Throws<ArgumentException>(() => LambadaClozeBuilder.Build([Story], Small with { MaxPassages = 0 }));
    }
}
