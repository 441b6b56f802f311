Feature: Safeguarding children and adults at risk
  Where a child or an adult is at risk of serious harm, professionals share what protects them
  without consent and over an objection, and record why. Without such a risk, the person's
  consent is sought first and an objection is respected.

  Scenario: Scenario 6: Safeguarding overrides an objection when there is a risk of serious harm
    Given a safeguarding lead at Northgate City Council
    And the person has objected
    And there is a risk of serious harm
    When they ask Riverside Medical Practice for the GP summary for safeguarding
    Then sharing is permitted
    And rule ntg-safeguarding/person-objected is overridden
    And the details mention "overrides rule ntg-safeguarding/person-objected"
    And the legal basis includes Schedule 1 Part 2 paragraph 18
    And the legal basis includes overriding public interest
    And they must record their justification
    # Capacity is presumed (Mental Capacity Act 2005 s1(2)), so this is the objection of a
    # person with capacity: the Caldicott Guardian is consulted first.
    And they must consult the Caldicott Guardian
    And the deciding rule is ntg-safeguarding/capable-adult-objects

  Scenario: Scenario 23: Children's safeguarding for a 15-year-old
    Given a care coordinator at Northgate City Council
    And there is a risk of serious harm to the child
    And the person is 15 years old
    When they ask Northgate Mental Health for the mental health record for safeguarding
    Then sharing is permitted
    And the legal basis includes Children Act 1989 section 47
    And the legal basis includes Working Together to Safeguard Children
    And the reason mentions "to protect a child"
    And the deciding rule is ntg-safeguarding/child-at-risk

  Scenario: An adult at risk, with the Care Act cited
    Given a social worker at Northgate City Council
    And there is a risk of serious harm
    And the person is 79 years old
    When they ask Northgate Hospitals for the discharge summary for safeguarding
    Then sharing is permitted
    And the legal basis includes Care Act 2014 section 42
    And the legal basis includes Article 9(2)(g)
    And they must inform the subject
    And the deciding rule is ntg-safeguarding/adult-at-risk

  Scenario: Without a risk of serious harm an objection is respected
    Given a safeguarding lead at Northgate City Council
    And the person has objected
    And there is no risk of serious harm
    When they ask Castle Street Surgery for the GP summary for safeguarding
    Then sharing is not permitted
    And the deciding rule is ntg-safeguarding/person-objected
    And it would be permitted if the risk of serious harm is true

  Scenario: Without consent or a serious risk, ask the person first
    Given a social worker at Northgate City Council
    When they ask Northgate Community Health for the care plan for safeguarding
    Then sharing is not permitted
    And the reason mentions "ask the person"
    And the deciding rule is ntg-safeguarding/ask-for-consent-first
    And it would be permitted if the consent is explicit

  Scenario: A concern shared with the person's explicit consent
    Given a district nurse at Northgate Community Health
    And the person has given explicit consent
    And there is no risk of serious harm
    When they ask Northgate City Council for the safeguarding referral for safeguarding
    Then sharing is permitted
    And the legal basis includes explicit consent
    And the legal basis includes Article 9(2)(h)
    And the deciding rule is ntg-safeguarding/concern-shared-with-consent

  Scenario: Protecting a child reaches the sexual health record
    Given a safeguarding lead at Northgate Hospitals
    And the person's details are:
      | fact                 | value |
      | risk of serious harm | true  |
      | age                  | 13    |
      | objection            | true  |
    When they ask Northgate Community Health for the sexual health record for safeguarding
    Then sharing is permitted
    And rule restriction:sexual-health-record is overridden
    And the deciding rule is ntg-safeguarding/child-at-risk

  Scenario: Safeguarding does not open gender history
    Given a safeguarding lead at Northgate City Council
    And there is a risk of serious harm
    When they ask Riverside Medical Practice for the gender history for safeguarding
    Then sharing is not permitted
    And the deciding rule is restriction:gender-history

  Scenario: A receptionist has no part in safeguarding enquiries
    Given a receptionist at Riverside Medical Practice
    And there is a risk of serious harm
    When they ask Northgate City Council for the safeguarding referral for safeguarding
    Then sharing is not permitted
    And no agreement covers it

  Scenario Outline: Professionals protecting an adult at risk (<role>)
    Given a <role> at <organisation>
    And there is a risk of serious harm
    When they ask <holder> for the <record> for safeguarding
    Then sharing is permitted
    And they must record their justification
    And the deciding rule is ntg-safeguarding/adult-at-risk

    Examples:
      | role                | organisation               | holder                     | record                 |
      | GP                  | Riverside Medical Practice | Northgate City Council     | safeguarding referral  |
      | consultant          | Northgate Hospitals        | Northgate Mental Health    | mental health record   |
      | community matron    | Northgate Community Health | Castle Street Surgery      | medication list        |
      | mental health nurse | Northgate Mental Health    | Northgate City Council     | social care assessment |
