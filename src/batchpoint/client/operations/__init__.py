"""Operations objects behind each ``Client`` attribute."""
