"""Memory networks on bAbI: the data (`babi`), End-to-End Memory Networks (`memn2n`), Recurrent
Entity Networks (`entnet`), restarts trained side by side (`ensemble`) and their training (`training`)."""
